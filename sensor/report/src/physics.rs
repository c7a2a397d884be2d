//! The physics check: how far a peer can be, given the smallest round trip to it.
//!
//! A signal in optical fibre travels at about two thirds of the speed of light in vacuum,
//! ~200,000 km/s: one millisecond of round trip covers at most ~100 km of path out and back
//! ([`KM_PER_MS_RTT`]). Real paths are longer than the great circle and add queueing and
//! processing, so the smallest transport round trip measured to a peer *bounds* its
//! distance from the sensor from above. A peer whose country lies farther away than that
//! bound cannot be where the address database says: it is a VPN exit, an anycast address,
//! a relay answering for something else, or a wrong database entry.
//!
//! # Contract
//! - [`Location`]: where the sensor is, a point (`"52.52,13.40"`) or a country (`"DE"`),
//!   parsed by [`Location::parse`] (latitude −90..=90, longitude −180..=180, a country with
//!   boxes in the table).
//! - Countries are the bounding boxes of `data/country-boxes.tsv` (compiled in, parsed once
//!   on first use): several per country where territories lie far apart, boxes across the
//!   antimeridian allowed, every edge rounded outward to whole degrees. A box contains all
//!   of its territory, so [`least_distance_km`] is a **lower bound** of the great-circle
//!   distance (on a sphere of [`EARTH_RADIUS_KM`]) from the location to any point of the
//!   country: 0 when they overlap.
//! - [`check`] compares that lower bound with the RTT bound. It says `contradicted` only
//!   when the least distance exceeds the bound by more than [`MARGIN_KM`], which absorbs
//!   what could make an honest peer look too far: the sensor's configured point being off
//!   (a city's coordinates for a site tens of km away), the sphere against the real
//!   ellipsoid (under 0.6 % of the distance), and a LAN or metro round trip of ~1 ms to a
//!   peer in the same or a neighbouring country. Measurement noise (queues, delayed
//!   acknowledgements, slow peers) only lengthens a round trip, so it only widens the
//!   bound and never causes a contradiction.
//! - Nothing here panics on any input: an unknown country, or a round trip that is not a
//!   finite non-negative number, gives no answer (`None`).

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

/// Kilometres of distance one millisecond of round trip allows at most: light in fibre
/// (~200,000 km/s) covers ~200 km per ms, out and back.
pub const KM_PER_MS_RTT: f64 = 100.0;

/// How much farther than the RTT bound a country must be before the peer's location is
/// contradicted (see the module contract for what it absorbs).
pub const MARGIN_KM: f64 = 500.0;

/// The sphere distances are measured on (the mean Earth radius).
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// The country boxes as shipped: `cc min_lat min_lon max_lat max_lon` per line.
pub const COUNTRY_BOXES: &str = include_str!("../data/country-boxes.tsv");

/// Latitude steps (degrees) at which the distance between two boxes' meridian edges is
/// sampled; half a step is subtracted from the result so that it stays a lower bound.
const SAMPLE_STEP_DEG: f64 = 0.25;

/// Where the sensor is.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// A point, in degrees (WGS 84).
    Point {
        /// Latitude, −90..=90.
        lat: f64,
        /// Longitude, −180..=180.
        lon: f64,
    },
    /// Somewhere in a country (ISO 3166-1 alpha-2, upper case): distances are measured
    /// from the nearest point of its territory.
    Country(String),
}

impl Location {
    /// Parses `"lat,lon"` (decimal degrees, like `"52.52,13.40"`) or a country code with
    /// boxes in the table (like `"DE"`, any case). The error says what is wrong.
    pub fn parse(s: &str) -> Result<Location, String> {
        let s = s.trim();
        if let Some((lat, lon)) = s.split_once(',') {
            let num = |v: &str, what: &str, max: f64| -> Result<f64, String> {
                let x: f64 = v.trim().parse().map_err(|_| format!("{what} {:?} is not a number", v.trim()))?;
                if !x.is_finite() || x.abs() > max {
                    return Err(format!("{what} {x} is out of range (-{max}..={max})"));
                }
                Ok(x)
            };
            return Ok(Location::Point { lat: num(lat, "latitude", 90.0)?, lon: num(lon, "longitude", 180.0)? });
        }
        let cc = s.to_ascii_uppercase();
        if has_country(&cc) {
            Ok(Location::Country(cc))
        } else {
            Err(format!("{s:?} is neither \"lat,lon\" nor a known ISO 3166-1 alpha-2 country code"))
        }
    }

    /// The boxes the location stands for (a point is a box of no size).
    fn boxes(&self) -> Vec<GeoBox> {
        match self {
            Location::Point { lat, lon } => vec![GeoBox { min_lat: *lat, max_lat: *lat, west: *lon, east: *lon }],
            Location::Country(cc) => boxes_of(cc).to_vec(),
        }
    }
}

impl fmt::Display for Location {
    /// `52.52,13.40` or `DE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Point { lat, lon } => write!(f, "{lat:.2},{lon:.2}"),
            Location::Country(cc) => f.write_str(cc),
        }
    }
}

/// The physics check of one peer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhysicsCheck {
    /// The smallest transport round trip to the peer, ms.
    pub rtt_ms: f64,
    /// The farthest the peer can be: `rtt_ms` × [`KM_PER_MS_RTT`].
    pub bound_km: f64,
    /// The least distance from the sensor to the peer's country (a lower bound).
    pub least_distance_km: f64,
    /// The margin allowed beyond the bound ([`MARGIN_KM`]).
    pub margin_km: f64,
    /// The country is farther than the bound plus the margin: the peer is not there.
    pub contradicted: bool,
}

/// Judges a peer geolocated to `peer_country` (ISO 3166-1 alpha-2, any case) whose
/// smallest transport round trip from the sensor at `sensor` was `min_rtt_ms`. `None`
/// when either country has no boxes or the round trip is not a finite number ≥ 0.
pub fn check(sensor: &Location, peer_country: &str, min_rtt_ms: f64) -> Option<PhysicsCheck> {
    if !min_rtt_ms.is_finite() || min_rtt_ms < 0.0 {
        return None;
    }
    let least = least_distance_km(sensor, peer_country)?;
    let bound = min_rtt_ms * KM_PER_MS_RTT;
    Some(PhysicsCheck {
        rtt_ms: min_rtt_ms,
        bound_km: bound,
        least_distance_km: least,
        margin_km: MARGIN_KM,
        contradicted: least > bound + MARGIN_KM,
    })
}

/// A lower bound of the great-circle distance (km) from `from` to the nearest point of
/// country `cc` (any case); 0 when they overlap; `None` for a country without boxes.
pub fn least_distance_km(from: &Location, cc: &str) -> Option<f64> {
    let to = boxes_of(&cc.to_ascii_uppercase());
    let from = from.boxes();
    if to.is_empty() || from.is_empty() {
        return None;
    }
    let mut best = f64::INFINITY;
    for a in &from {
        for b in to {
            best = best.min(box_distance_rad(a, b));
            if best <= 0.0 {
                return Some(0.0);
            }
        }
    }
    Some(best * EARTH_RADIUS_KM)
}

/// An upper bound of the great-circle distance (km) from `from` to the farthest point of
/// country `cc` (any case): the largest distance between points sampled every degree along
/// the edges of their boxes, plus the sampling's worst error (half a degree of arc on each
/// side). `None` for a country without boxes. Used to say that a distance the relay gap
/// implies lies beyond every point of the home countries.
pub fn farthest_distance_km(from: &Location, cc: &str) -> Option<f64> {
    let to = boxes_of(&cc.to_ascii_uppercase());
    let from = from.boxes();
    if to.is_empty() || from.is_empty() {
        return None;
    }
    let points = |b: &GeoBox| -> Vec<(f64, f64)> {
        let (west, width) = b.lon_interval();
        let lat_steps = ((b.max_lat - b.min_lat).ceil() as usize).max(1);
        let lon_steps = (width.ceil() as usize).max(1);
        let mut p = Vec::with_capacity(2 * (lat_steps + lon_steps) + 2);
        for i in 0..=lon_steps {
            let lon = west + width * i as f64 / lon_steps as f64;
            p.push((b.min_lat, lon));
            p.push((b.max_lat, lon));
        }
        for i in 0..=lat_steps {
            let lat = b.min_lat + (b.max_lat - b.min_lat) * i as f64 / lat_steps as f64;
            p.push((lat, west));
            p.push((lat, west + width));
        }
        p
    };
    let mut worst: f64 = 0.0;
    for a in &from {
        for pa in points(a) {
            for b in to {
                for pb in points(b) {
                    let angle =
                        central_angle(pa.0.to_radians(), pa.1.to_radians(), pb.0.to_radians(), pb.1.to_radians());
                    worst = worst.max(angle);
                }
            }
        }
    }
    Some((worst + 1.0_f64.to_radians()).min(std::f64::consts::PI) * EARTH_RADIUS_KM)
}

/// Whether the table has boxes for `cc` (upper case).
pub fn has_country(cc: &str) -> bool {
    TABLE.as_ref().is_ok_and(|t| t.contains_key(cc))
}

/// Every country code in the table, sorted.
pub fn countries() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = TABLE.as_ref().map(|t| t.keys().map(String::as_str).collect()).unwrap_or_default();
    v.sort_unstable();
    v
}

/// A latitude/longitude box in degrees; `west > east` when it crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
struct GeoBox {
    min_lat: f64,
    max_lat: f64,
    west: f64,
    east: f64,
}

impl GeoBox {
    /// Its longitudes as an interval on the circle: start and width, degrees.
    fn lon_interval(&self) -> (f64, f64) {
        let width = if self.east - self.west >= 360.0 { 360.0 } else { (self.east - self.west).rem_euclid(360.0) };
        (self.west, width)
    }
}

/// The boxes of a country code (upper case); empty when unknown.
fn boxes_of(cc: &str) -> &'static [GeoBox] {
    TABLE.as_ref().ok().and_then(|t| t.get(cc)).map(Vec::as_slice).unwrap_or_default()
}

/// The parsed table; a parse error (a broken shipped file, caught by the tests) leaves it
/// empty, so no physics check is made and no country is accepted as a location.
static TABLE: LazyLock<Result<HashMap<String, Vec<GeoBox>>, String>> = LazyLock::new(|| parse_table(COUNTRY_BOXES));

/// Parses box lines (`#` comments and blank lines skipped); the error names the line.
fn parse_table(text: &str) -> Result<HashMap<String, Vec<GeoBox>>, String> {
    let mut table: HashMap<String, Vec<GeoBox>> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [cc, min_lat, min_lon, max_lat, max_lon] = fields.as_slice() else {
            return Err(format!("line {}: expected 5 fields (cc min_lat min_lon max_lat max_lon)", i + 1));
        };
        if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("line {}: {cc:?} is not an upper-case two-letter code", i + 1));
        }
        let num = |v: &str, max: f64| -> Result<f64, String> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && x.abs() <= max)
                .ok_or_else(|| format!("line {}: {v:?} is not a number in -{max}..={max}", i + 1))
        };
        let b = GeoBox {
            min_lat: num(min_lat, 90.0)?,
            west: num(min_lon, 180.0)?,
            max_lat: num(max_lat, 90.0)?,
            east: num(max_lon, 180.0)?,
        };
        if b.min_lat > b.max_lat {
            return Err(format!("line {}: min_lat is above max_lat", i + 1));
        }
        table.entry((*cc).to_string()).or_default().push(b);
    }
    Ok(table)
}

/// The least angular gap (degrees, 0..=180) between two longitude intervals; 0 when they
/// overlap.
fn lon_gap(a: &GeoBox, b: &GeoBox) -> f64 {
    let (aw, awidth) = a.lon_interval();
    let (bw, bwidth) = b.lon_interval();
    let inside = |x: f64, w: f64, width: f64| (x - w).rem_euclid(360.0) <= width;
    if inside(bw, aw, awidth) || inside(aw, bw, bwidth) {
        return 0.0;
    }
    let east_of_a = (bw - (aw + awidth)).rem_euclid(360.0);
    let west_of_a = (aw - (bw + bwidth)).rem_euclid(360.0);
    east_of_a.min(west_of_a)
}

/// Central angle between two points given in radians.
fn central_angle(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let h = ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * h.sqrt().min(1.0).asin()
}

/// A lower bound of the central angle (radians) between two boxes.
///
/// With overlapping longitudes the latitude gap is exact (two points can share a
/// meridian, and no two points are closer than their latitude difference). Otherwise, for
/// any two latitudes the distance grows with the longitude difference, so the nearest
/// points lie on the two facing meridian edges `gap` apart; along them, for each latitude
/// of one edge the nearest latitude on the other is exact (the cosine of the distance is a
/// sinusoid in it), and the first edge is sampled every [`SAMPLE_STEP_DEG`] with half a
/// step subtracted (distance changes at most as fast as latitude).
fn box_distance_rad(a: &GeoBox, b: &GeoBox) -> f64 {
    let lat_gap = (b.min_lat - a.max_lat).max(a.min_lat - b.max_lat).max(0.0);
    let gap = lon_gap(a, b);
    if gap <= 0.0 {
        return lat_gap.to_radians();
    }
    let dl = gap.to_radians();
    let (b1, b2) = (b.min_lat.to_radians(), b.max_lat.to_radians());
    let nearest_on_b = |p1: f64| -> f64 {
        // cos d = sin p1 sin p2 + cos p1 cos p2 cos dl = R cos(p2 - alpha)
        let alpha = p1.sin().atan2(p1.cos() * dl.cos());
        let mut d = central_angle(p1, 0.0, b1, dl).min(central_angle(p1, 0.0, b2, dl));
        if (b1..=b2).contains(&alpha) {
            d = d.min(central_angle(p1, 0.0, alpha, dl));
        }
        d
    };
    let span = a.max_lat - a.min_lat;
    if span <= 0.0 {
        return nearest_on_b(a.min_lat.to_radians());
    }
    let steps = (span / SAMPLE_STEP_DEG).ceil().max(1.0);
    let step = span / steps;
    let mut best = f64::INFINITY;
    let mut i = 0.0;
    while i <= steps {
        best = best.min(nearest_on_b((a.min_lat + i * step).to_radians()));
        i += 1.0;
    }
    (best - (step / 2.0).to_radians()).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BERLIN: Location = Location::Point { lat: 52.52, lon: 13.40 };

    fn km(from: &Location, cc: &str) -> f64 {
        least_distance_km(from, cc).unwrap()
    }

    /// Every ISO 3166-1 alpha-2 code (2024), plus XK.
    const ISO: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO \
        BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE \
        EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT \
        HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU \
        LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR \
        NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM \
        SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG \
        VI VN VU WF WS YE YT ZA ZM ZW XK";

    #[test]
    fn shipped_table_parses_and_covers_every_iso_code() {
        let t = parse_table(COUNTRY_BOXES).unwrap();
        let iso: Vec<&str> = ISO.split_whitespace().collect();
        assert_eq!(iso.len(), 250);
        let missing: Vec<_> = iso.iter().filter(|cc| !t.contains_key(**cc)).collect();
        assert!(missing.is_empty(), "no box for {missing:?}");
        let extra: Vec<_> = t.keys().filter(|cc| !iso.contains(&cc.as_str())).collect();
        assert!(extra.is_empty(), "not ISO 3166-1: {extra:?}");
        assert_eq!(countries().len(), 250);
        // Every edge is a whole degree (rounded outward when written).
        for b in t.values().flatten() {
            for v in [b.min_lat, b.max_lat, b.west, b.east] {
                assert_eq!(v, v.round(), "{b:?}");
            }
        }
        // The countries the contract names have several boxes.
        for cc in ["FR", "US", "GB", "NL", "NO", "DK", "ES", "PT", "AU", "NZ", "RU", "CL", "EC"] {
            assert!(t[cc].len() >= 2, "{cc}");
        }
    }

    #[test]
    fn bad_table_lines_are_named() {
        assert!(parse_table("DE 47 5 56\n").unwrap_err().contains("line 1"));
        assert!(parse_table("# c\nde 47 5 56 16\n").unwrap_err().contains("line 2"));
        assert!(parse_table("DE 47 5 56 190\n").unwrap_err().contains("190"));
        assert!(parse_table("DE 57 5 56 16\n").unwrap_err().contains("min_lat"));
        assert!(parse_table("DE 47 x 56 16\n").is_err());
        assert_eq!(parse_table("# only a comment\n\nDE 47 5 56 16 # inline\n").unwrap()["DE"].len(), 1);
    }

    #[test]
    fn known_distances() {
        assert_eq!(km(&BERLIN, "DE"), 0.0);
        assert_eq!(km(&BERLIN, "de"), 0.0);
        // Berlin to France's box (east edge 10°E): ~3.4° of longitude at 52°N ≈ 230 km.
        let fr = km(&BERLIN, "FR");
        assert!((150.0..300.0).contains(&fr), "{fr}");
        // Berlin to the US: the nearest is Maine's east edge (66°W), ~5,600 km.
        let us = km(&BERLIN, "US");
        assert!((5_000.0..6_000.0).contains(&us), "{us}");
        // Berlin to Japan: ~8,900 km between the cities; the box (west edge 122°E, up to
        // 46°N for Hokkaido and the Kurils) reaches ~7,100 km.
        let jp = km(&BERLIN, "JP");
        assert!((6_500.0..9_000.0).contains(&jp), "{jp}");
        // Berlin to Australia: ~16,000 km between the cities; the box edge is nearer.
        let au = km(&BERLIN, "AU");
        assert!((10_000.0..16_100.0).contains(&au), "{au}");
        // A point exactly on a box edge, and beside it.
        assert_eq!(km(&Location::Point { lat: 56.0, lon: 16.0 }, "DE"), 0.0);
        let one_degree_north = km(&Location::Point { lat: 57.0, lon: 10.0 }, "DE");
        assert!((one_degree_north - 111.19).abs() < 0.5, "{one_degree_north}");
        assert_eq!(least_distance_km(&BERLIN, "ZZ"), None);
        assert_eq!(least_distance_km(&Location::Country("ZZ".into()), "DE"), None);
    }

    /// Places (rounded coordinates of cities and islands from public gazetteers) that must
    /// lie inside their country's boxes.
    const PLACES: &[(&str, f64, f64)] = &[
        ("DE", 52.52, 13.40),
        ("FR", 48.86, 2.35),
        ("GB", 51.51, -0.13),
        ("IE", 53.35, -6.26),
        ("ES", 40.42, -3.70),
        ("PT", 38.72, -9.14),
        ("IT", 41.90, 12.50),
        ("GR", 37.98, 23.73),
        ("FI", 60.17, 24.94),
        ("NO", 59.91, 10.75),
        ("SE", 59.33, 18.07),
        ("DK", 55.68, 12.57),
        ("PL", 52.23, 21.01),
        ("UA", 50.45, 30.52),
        ("RU", 55.75, 37.62),
        ("RU", 54.71, 20.51),
        ("RU", 43.12, 131.89),
        ("RU", 53.02, 158.65),
        ("RU", 64.73, 177.51),
        ("RU", 65.78, -169.05),
        ("MT", 35.90, 14.51),
        ("CY", 35.17, 33.36),
        ("IS", 64.15, -21.94),
        ("FO", 62.01, -6.77),
        ("DK", 62.01, -6.77),
        ("GL", 64.18, -51.72),
        ("DK", 64.18, -51.72),
        ("SJ", 78.22, 15.65),
        ("NO", 78.22, 15.65),
        ("NO", 69.65, 18.96),
        ("PT", 37.74, -25.67),
        ("PT", 32.65, -16.91),
        ("ES", 28.12, -15.43),
        ("ES", 35.89, -5.32),
        ("ES", 35.29, -2.94),
        ("TR", 41.01, 28.98),
        ("GE", 41.72, 44.79),
        ("AM", 40.18, 44.51),
        ("AZ", 40.41, 49.87),
        ("KZ", 51.17, 71.45),
        ("UZ", 41.30, 69.24),
        ("MN", 47.92, 106.92),
        ("CN", 39.90, 116.40),
        ("CN", 43.83, 87.62),
        ("CN", 18.25, 109.51),
        ("KP", 39.03, 125.75),
        ("KR", 37.57, 126.98),
        ("KR", 33.50, 126.53),
        ("JP", 35.68, 139.69),
        ("JP", 43.06, 141.35),
        ("JP", 26.21, 127.68),
        ("JP", 27.09, 142.19),
        ("TW", 25.03, 121.56),
        ("HK", 22.32, 114.17),
        ("MO", 22.20, 113.54),
        ("VN", 21.03, 105.85),
        ("VN", 10.82, 106.63),
        ("TH", 13.75, 100.50),
        ("MM", 16.87, 96.20),
        ("KH", 11.56, 104.92),
        ("LA", 17.97, 102.63),
        ("MY", 3.15, 101.69),
        ("MY", 5.98, 116.07),
        ("BN", 4.90, 114.94),
        ("SG", 1.35, 103.82),
        ("ID", -6.21, 106.85),
        ("ID", -2.53, 140.72),
        ("ID", 5.55, 95.32),
        ("PH", 14.60, 120.98),
        ("PH", 7.07, 125.61),
        ("TL", -8.56, 125.57),
        ("IN", 19.08, 72.88),
        ("IN", 28.61, 77.21),
        ("IN", 11.62, 92.73),
        ("LK", 6.93, 79.85),
        ("MV", 4.18, 73.51),
        ("NP", 27.72, 85.32),
        ("BD", 23.81, 90.41),
        ("PK", 24.86, 67.01),
        ("AF", 34.56, 69.21),
        ("IR", 35.69, 51.39),
        ("IQ", 33.31, 44.36),
        ("SA", 24.71, 46.68),
        ("AE", 25.20, 55.27),
        ("QA", 25.29, 51.53),
        ("OM", 23.59, 58.41),
        ("YE", 15.37, 44.19),
        ("YE", 12.65, 53.99),
        ("IL", 32.09, 34.78),
        ("PS", 31.50, 34.47),
        ("JO", 31.95, 35.93),
        ("LB", 33.89, 35.50),
        ("SY", 33.51, 36.29),
        ("EG", 30.04, 31.24),
        ("LY", 32.89, 13.19),
        ("TN", 36.81, 10.18),
        ("DZ", 36.75, 3.06),
        ("MA", 34.02, -6.84),
        ("EH", 27.15, -13.20),
        ("MA", 27.15, -13.20),
        ("SN", 14.69, -17.44),
        ("CV", 14.93, -23.51),
        ("NG", 6.52, 3.38),
        ("GH", 5.60, -0.19),
        ("CI", 5.36, -4.01),
        ("CM", 3.87, 11.52),
        ("CD", -4.32, 15.31),
        ("AO", -8.84, 13.23),
        ("ET", 9.03, 38.74),
        ("KE", -1.29, 36.82),
        ("TZ", -6.79, 39.21),
        ("UG", 0.35, 32.58),
        ("ZA", -33.92, 18.42),
        ("ZA", -26.20, 28.05),
        ("MG", -18.88, 47.51),
        ("MU", -20.16, 57.50),
        ("SC", -4.62, 55.45),
        ("RE", -20.88, 55.45),
        ("FR", -20.88, 55.45),
        ("YT", -12.78, 45.23),
        ("SH", -15.93, -5.72),
        ("SH", -7.93, -14.42),
        ("GB", -15.93, -5.72),
        ("FR", -49.35, 70.22),
        ("TF", -49.35, 70.22),
        ("GS", -54.28, -36.51),
        ("FK", -51.69, -57.86),
        ("GB", -51.69, -57.86),
        ("US", 40.71, -74.01),
        ("US", 47.61, -122.33),
        ("US", 25.76, -80.19),
        ("US", 24.56, -81.78),
        ("US", 21.31, -157.86),
        ("US", 61.22, -149.90),
        ("US", 52.83, 173.17),
        ("US", 18.47, -66.11),
        ("US", 13.48, 144.75),
        ("US", -14.28, -170.70),
        ("PR", 18.47, -66.11),
        ("GU", 13.48, 144.75),
        ("AS", -14.28, -170.70),
        ("UM", 28.21, -177.38),
        ("UM", 19.28, 166.65),
        ("CA", 47.56, -52.71),
        ("CA", 49.28, -123.12),
        ("CA", 82.50, -62.35),
        ("MX", 19.43, -99.13),
        ("MX", 32.53, -117.04),
        ("GT", 14.63, -90.51),
        ("CU", 23.11, -82.37),
        ("JM", 17.97, -76.79),
        ("HT", 18.59, -72.31),
        ("DO", 18.49, -69.93),
        ("BS", 25.05, -77.35),
        ("BM", 32.29, -64.78),
        ("GB", 32.29, -64.78),
        ("KY", 19.29, -81.37),
        ("PA", 8.98, -79.52),
        ("CR", 9.93, -84.09),
        ("CW", 12.11, -68.93),
        ("NL", 12.11, -68.93),
        ("AW", 12.52, -70.03),
        ("GP", 16.24, -61.53),
        ("MQ", 14.62, -61.06),
        ("FR", 14.62, -61.06),
        ("TT", 10.65, -61.52),
        ("BB", 13.10, -59.61),
        ("CO", 4.71, -74.07),
        ("CO", 12.58, -81.70),
        ("VE", 10.49, -66.88),
        ("GY", 6.80, -58.16),
        ("SR", 5.85, -55.20),
        ("GF", 4.92, -52.31),
        ("FR", 4.92, -52.31),
        ("EC", -0.18, -78.47),
        ("EC", -0.74, -90.31),
        ("PE", -12.05, -77.04),
        ("BO", -16.50, -68.15),
        ("BR", -23.55, -46.63),
        ("BR", -5.79, -35.21),
        ("BR", -3.85, -32.42),
        ("PY", -25.26, -57.58),
        ("UY", -34.90, -56.16),
        ("AR", -34.60, -58.38),
        ("AR", -54.80, -68.30),
        ("CL", -33.45, -70.67),
        ("CL", -53.16, -70.91),
        ("CL", -27.15, -109.43),
        ("CL", -33.64, -78.83),
        ("AU", -33.87, 151.21),
        ("AU", -31.95, 115.86),
        ("AU", -42.88, 147.33),
        ("AU", -12.46, 130.84),
        ("AU", -31.55, 159.08),
        ("AU", -10.42, 105.68),
        ("NF", -29.06, 167.96),
        ("NZ", -36.85, 174.76),
        ("NZ", -46.41, 168.35),
        ("NZ", -43.95, -176.56),
        ("NZ", -29.25, -177.92),
        ("NZ", -9.17, -171.83),
        ("FJ", -18.14, 178.44),
        ("FJ", -16.78, -179.33),
        ("PG", -9.44, 147.18),
        ("PG", -6.23, 155.57),
        ("SB", -9.43, 159.95),
        ("VU", -17.73, 168.32),
        ("NC", -22.27, 166.46),
        ("FR", -22.27, 166.46),
        ("PF", -17.54, -149.57),
        ("FR", -17.54, -149.57),
        ("WS", -13.83, -171.76),
        ("TO", -21.14, -175.20),
        ("KI", 1.33, 172.98),
        ("KI", 1.87, -157.36),
        ("MH", 7.09, 171.38),
        ("FM", 6.92, 158.16),
        ("PW", 7.50, 134.62),
        ("NR", -0.55, 166.92),
        ("TV", -8.52, 179.20),
        ("CK", -21.21, -159.78),
        ("NU", -19.06, -169.92),
        ("PN", -25.07, -130.10),
        ("AQ", -77.85, 166.67),
    ];

    #[test]
    fn places_lie_in_their_countries() {
        for (cc, lat, lon) in PLACES {
            let d = km(&Location::Point { lat: *lat, lon: *lon }, cc);
            assert_eq!(d, 0.0, "{cc} {lat},{lon} is {d:.0} km outside");
        }
    }

    #[test]
    fn point_to_box_matches_the_haversine_distance_to_the_nearest_corner() {
        // East of a box and north of it: the nearest point is its north-east corner.
        let b = GeoBox { min_lat: 10.0, max_lat: 20.0, west: 0.0, east: 10.0 };
        let p = GeoBox { min_lat: 40.0, max_lat: 40.0, west: 30.0, east: 30.0 };
        let want = central_angle(40f64.to_radians(), 30f64.to_radians(), 20f64.to_radians(), 10f64.to_radians());
        assert!((box_distance_rad(&p, &b) - want).abs() < 1e-9);
        // Beside the box at the equator: the nearest is on the edge, ~lon difference.
        let p = GeoBox { min_lat: 15.0, max_lat: 15.0, west: 15.0, east: 15.0 };
        let d = box_distance_rad(&p, &b).to_degrees();
        assert!(d > 4.7 && d < 5.0, "{d}");
    }

    #[test]
    fn box_to_box_is_a_lower_bound_of_sampled_pairs() {
        // Brute force over a grid of both boxes: the computed distance never exceeds the
        // least distance between grid points, and is within a sample step of it.
        let a = GeoBox { min_lat: -30.0, max_lat: 45.0, west: 100.0, east: 140.0 };
        let b = GeoBox { min_lat: 20.0, max_lat: 70.0, west: -20.0, east: 10.0 };
        let d = box_distance_rad(&a, &b);
        let mut brute = f64::INFINITY;
        for i in 0..=75 {
            for j in 0..=50 {
                for lon_a in [100.0f64, 140.0] {
                    for lon_b in [-20.0f64, 10.0] {
                        let la = (-30.0 + f64::from(i)).to_radians();
                        let lb = (20.0 + f64::from(j)).to_radians();
                        brute = brute.min(central_angle(la, lon_a.to_radians(), lb, lon_b.to_radians()));
                    }
                }
            }
        }
        assert!(d <= brute + 1e-12, "{d} > {brute}");
        assert!(brute - d < 1.5f64.to_radians(), "{d} vs {brute}");
    }

    #[test]
    fn antimeridian_boxes() {
        // Fiji's box runs from 174°E across 180 to 178°W: a point at 179°W inside it is 0.
        assert_eq!(km(&Location::Point { lat: -17.0, lon: -179.0 }, "FJ"), 0.0);
        assert_eq!(km(&Location::Point { lat: -17.0, lon: 179.0 }, "FJ"), 0.0);
        // Russia's main box reaches 168°W: Chukotka's east.
        assert_eq!(km(&Location::Point { lat: 66.0, lon: -170.0 }, "RU"), 0.0);
        // 2° of longitude east of Fiji's east edge at the equator-ish latitude of -17.
        let d = km(&Location::Point { lat: -17.0, lon: -176.0 }, "FJ");
        assert!((d - 2.0 * 111.19 * 17f64.to_radians().cos()).abs() < 3.0, "{d}");
        // Across the antimeridian from the west: New Zealand's outer box to Samoa (no overlap).
        let gap = lon_gap(
            &GeoBox { min_lat: 0.0, max_lat: 1.0, west: 170.0, east: -175.0 },
            &GeoBox { min_lat: 0.0, max_lat: 1.0, west: -170.0, east: -160.0 },
        );
        assert!((gap - 5.0).abs() < 1e-9, "{gap}");
        let gap = lon_gap(
            &GeoBox { min_lat: 0.0, max_lat: 1.0, west: 170.0, east: -175.0 },
            &GeoBox { min_lat: 0.0, max_lat: 1.0, west: -178.0, east: -160.0 },
        );
        assert_eq!(gap, 0.0);
        // A full-circle box overlaps everything.
        // Berlin (52.52°N) to Antarctica's box (north edge 60°S): 112.52° of latitude.
        assert!((km(&BERLIN, "AQ") - 112.52f64.to_radians() * EARTH_RADIUS_KM).abs() < 1.0);
        assert_eq!(km(&Location::Point { lat: -70.0, lon: 123.0 }, "AQ"), 0.0);
    }

    #[test]
    fn country_locations_use_the_nearest_territory() {
        let de = Location::Country("DE".into());
        assert_eq!(km(&de, "AT"), 0.0);
        assert_eq!(km(&de, "DE"), 0.0);
        // Germany to France (touching) and to Great Britain (the North Sea between).
        assert_eq!(km(&de, "FR"), 0.0);
        let gb = km(&de, "GB");
        assert!(gb < 300.0, "{gb}");
        // Germany to the US: far, but nearer than from Berlin.
        let us = km(&de, "US");
        assert!(us > 4_500.0 && us < km(&BERLIN, "US"), "{us}");
        // France includes its overseas departments: France to Brazil is French Guiana's border.
        assert!(km(&Location::Country("FR".into()), "BR") < 100.0);
    }

    #[test]
    fn check_flags_only_beyond_bound_and_margin() {
        // 1 ms on a LAN: a peer in the same or any neighbouring country is fine.
        for cc in ["DE", "DK", "PL", "CZ", "AT", "CH", "FR", "LU", "BE", "NL"] {
            let c = check(&BERLIN, cc, 1.0).unwrap();
            assert!(!c.contradicted, "{cc}: {c:?}");
        }
        // From a country location, anything within reach of its territory (GB across the
        // North Sea) is fine even at 0 ms.
        for cc in ["DE", "DK", "PL", "CZ", "AT", "CH", "FR", "LU", "BE", "NL", "GB", "SE"] {
            let c = check(&Location::Country("DE".into()), cc, 0.0).unwrap();
            assert!(!c.contradicted, "{cc}: {c:?}");
        }
        // London is ~930 km from Berlin: 1 ms cannot reach it (the box edge is ~770 km).
        let c = check(&BERLIN, "GB", 1.0).unwrap();
        assert!(c.contradicted, "{c:?}");
        assert!(!check(&BERLIN, "GB", 3.0).unwrap().contradicted);
        // 5 ms from Berlin (≤ 500 km) yet geolocated to the US: contradicted.
        let c = check(&BERLIN, "US", 5.0).unwrap();
        assert!(c.contradicted, "{c:?}");
        assert_eq!(c.bound_km, 500.0);
        assert_eq!(c.margin_km, MARGIN_KM);
        assert_eq!(c.rtt_ms, 5.0);
        // 90 ms allows 9,000 km: the US east coast is within reach.
        assert!(!check(&BERLIN, "US", 90.0).unwrap().contradicted);
        // At the margin: just under and just over.
        let d = km(&BERLIN, "US");
        let at = (d - MARGIN_KM) / KM_PER_MS_RTT;
        assert!(!check(&BERLIN, "US", at + 0.01).unwrap().contradicted);
        assert!(check(&BERLIN, "US", at - 0.01).unwrap().contradicted);
        // No answer without a country or a usable RTT.
        assert_eq!(check(&BERLIN, "ZZ", 5.0), None);
        assert_eq!(check(&BERLIN, "US", f64::NAN), None);
        assert_eq!(check(&BERLIN, "US", -1.0), None);
        assert_eq!(check(&BERLIN, "US", f64::INFINITY), None);
    }

    #[test]
    fn parse_locations() {
        assert_eq!(Location::parse("52.52,13.40").unwrap(), BERLIN);
        assert_eq!(Location::parse(" -33.9 , 151.2 ").unwrap(), Location::Point { lat: -33.9, lon: 151.2 });
        assert_eq!(Location::parse("de").unwrap(), Location::Country("DE".into()));
        assert_eq!(Location::parse("DE").unwrap().to_string(), "DE");
        assert_eq!(BERLIN.to_string(), "52.52,13.40");
        let e = Location::parse("91,0").unwrap_err();
        assert!(e.contains("latitude 91 is out of range"), "{e}");
        let e = Location::parse("0,-180.5").unwrap_err();
        assert!(e.contains("longitude -180.5 is out of range"), "{e}");
        assert!(Location::parse("north,0").unwrap_err().contains("latitude \"north\""));
        assert!(Location::parse("NaN,0").is_err());
        assert!(Location::parse("ZZ").unwrap_err().contains("\"ZZ\""));
        assert!(Location::parse("").is_err());
        assert!(Location::parse("GER").is_err());
    }

    #[test]
    fn every_country_the_shipped_database_returns_has_a_box() {
        use crate::enrich::lookup::Enricher;
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/geo/geo-whois-asn-country.mmdb");
        if !path.exists() {
            // Visible with --nocapture and in the test's captured output on failure.
            eprintln!("SKIPPED: {} is absent (no shared data here)", path.display());
            return;
        }
        let e = Enricher::open(Some(&path), None).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        // A sample of IPv4: the first address of every /16 and a few inside each /8.
        for a in 1u32..=223 {
            for b in 0u32..=255 {
                for c in [0u32, 77, 160] {
                    let ip = std::net::Ipv4Addr::from((a << 24) | (b << 16) | (c << 8) | 1);
                    if let Some(cc) = e.lookup(ip.into()).country {
                        seen.insert(cc);
                    }
                }
            }
        }
        // And of IPv6: the allocated 2000::/3 by /20 steps and a spread of /32s.
        for p in 0u128..0x2000 {
            let ip = std::net::Ipv6Addr::from((0x2000u128 << 112) | (p << 100) | 1);
            if let Some(cc) = e.lookup(ip.into()).country {
                seen.insert(cc);
            }
        }
        assert!(seen.len() > 150, "only {} countries seen: {seen:?}", seen.len());
        let missing: Vec<_> = seen.iter().filter(|cc| !has_country(cc)).collect();
        assert!(missing.is_empty(), "codes from {} without a box: {missing:?}", path.display());
    }

    #[test]
    fn farthest_distance_bounds_the_country_from_above() {
        let berlin = Location::Point { lat: 52.52, lon: 13.40 };
        // Germany spans ~47-55 N, 6-15 E: nothing in it is more than ~700 km from Berlin.
        let de = farthest_distance_km(&berlin, "DE").unwrap();
        assert!((550.0..1100.0).contains(&de), "{de}");
        // Never below the least distance, and the US (with Hawaii and Alaska) reaches far.
        let us = farthest_distance_km(&berlin, "us").unwrap();
        assert!(us > least_distance_km(&berlin, "US").unwrap() && us > 9_000.0, "{us}");
        assert!(farthest_distance_km(&berlin, "XX").is_none());
        // From a country to itself: its own extent.
        let lu = farthest_distance_km(&Location::Country("LU".into()), "LU").unwrap();
        assert!(lu < 600.0, "{lu}");
    }
}
