//! Metrics: Prometheus text exposition of the sensor's counters. (Being built.)
