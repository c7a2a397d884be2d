//! Terminating UDP forwarder. Each client address gets its own upstream socket (an
//! association), dropped after `idle_secs` without traffic either way. Datagrams between the
//! relay and the clients (the listen leg) are held `D/2` each way, each hold moved by the
//! jitter if one is set (one seeded stream of draws per direction; order is kept).

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};

use crate::delay::{Flow, half_of_ms, pump};
use crate::{Disturb, banner, log, spawn};

/// Largest datagram.
const MAX_DATAGRAM: usize = 65_536;
/// Datagrams queued per direction before the reader waits.
const QUEUE: usize = 16_384;
/// How often an association's reader wakes up to check for idleness.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// One client's association.
#[derive(Debug)]
struct Assoc {
    /// Socket connected to the target.
    upstream: UdpSocket,
    /// Milliseconds since the relay started, at the last datagram either way.
    last_ms: AtomicU64,
}

/// Associations by client address.
type Assocs = Arc<Mutex<HashMap<SocketAddr, Arc<Assoc>>>>;

/// Forwards datagrams forever.
pub fn run(
    listen: SocketAddr,
    connect: SocketAddr,
    delay_ms: u64,
    idle_secs: u64,
    disturb: Disturb,
) -> Result<(), String> {
    let sock = UdpSocket::bind(listen).map_err(|e| format!("cannot listen on udp {listen}: {e}"))?;
    let back = sock.try_clone().map_err(|e| format!("udp socket: {e}"))?;
    let half = half_of_ms(delay_ms);
    let epoch = Instant::now();
    let idle = Duration::from_secs(idle_secs);
    let assocs: Assocs = Arc::new(Mutex::new(HashMap::new()));

    // Client -> target: one delay line for all associations.
    let (up_tx, up_rx) = bounded::<(Instant, (Arc<Assoc>, Vec<u8>))>(QUEUE);
    spawn("udp-pump-u", move || {
        pump(&up_rx, half, disturb.jitter(0), |(assoc, data)| {
            // ECONNREFUSED from an earlier ICMP unreachable, or a full buffer: drop, as UDP does.
            let _ = assoc.upstream.send(&data);
            Flow::Continue
        })
    })
    .map_err(|e| format!("cannot start a thread: {e}"))?;

    // Target -> client: one delay line, sent from the listening socket.
    let (down_tx, down_rx) = bounded::<(Instant, (SocketAddr, Vec<u8>))>(QUEUE);
    spawn("udp-pump-c", move || {
        pump(&down_rx, half, disturb.jitter(1), |(client, data)| {
            let _ = back.send_to(&data, client);
            Flow::Continue
        })
    })
    .map_err(|e| format!("cannot start a thread: {e}"))?;

    banner(&format!(
        "udp forwarder {listen} -> {connect}, holding {:.1} ms each way on the listen side (+{delay_ms} ms round trip), idle timeout {idle_secs} s{}",
        half.as_secs_f64() * 1000.0,
        disturb.describe()
    ));

    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, client) = match sock.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::ConnectionRefused) => continue,
            Err(e) => return Err(format!("udp receive on {listen}: {e}")),
        };
        let now = Instant::now();
        let Some(data) = buf.get(..n).map(<[u8]>::to_vec) else { continue };
        let assoc = match association(&assocs, client, connect, epoch, idle, &down_tx) {
            Ok(a) => a,
            Err(e) => {
                log(&format!("udp {client}: {e}"));
                continue;
            }
        };
        if up_tx.send((now, (assoc, data))).is_err() {
            return Err("udp: forwarding thread ended".into());
        }
    }
}

/// The association of `client`, created (socket + reader thread) if it has none.
fn association(
    assocs: &Assocs,
    client: SocketAddr,
    target: SocketAddr,
    epoch: Instant,
    idle: Duration,
    down_tx: &Sender<(Instant, (SocketAddr, Vec<u8>))>,
) -> Result<Arc<Assoc>, String> {
    let mut map = assocs.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(a) = map.get(&client) {
        // touched under the lock, so the idle check cannot drop it while we use it
        touch(a, epoch);
        return Ok(Arc::clone(a));
    }
    let any: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let upstream = UdpSocket::bind(any).map_err(|e| format!("cannot open an upstream socket: {e}"))?;
    upstream.connect(target).map_err(|e| format!("cannot connect to {target}: {e}"))?;
    upstream.set_read_timeout(Some(IDLE_CHECK)).map_err(|e| format!("upstream socket: {e}"))?;
    let reader_sock = upstream.try_clone().map_err(|e| format!("upstream socket: {e}"))?;
    let assoc = Arc::new(Assoc { upstream, last_ms: AtomicU64::new(0) });
    touch(&assoc, epoch);
    let (mine, all, tx) = (Arc::clone(&assoc), Arc::clone(assocs), down_tx.clone());
    spawn("udp-assoc", move || upstream_reader(&reader_sock, &mine, client, &all, epoch, idle, &tx))
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let local = assoc.upstream.local_addr().map(|a| a.to_string()).unwrap_or_default();
    log(&format!("udp {client} -> {target}: new association from {local}"));
    map.insert(client, Arc::clone(&assoc));
    Ok(assoc)
}

/// Records traffic on `assoc` now.
fn touch(assoc: &Assoc, epoch: Instant) {
    let ms = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
    assoc.last_ms.store(ms, Ordering::Relaxed);
}

/// True when `assoc` has seen nothing for `idle`.
fn is_idle(assoc: &Assoc, epoch: Instant, idle: Duration) -> bool {
    let now = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
    let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
    now.saturating_sub(assoc.last_ms.load(Ordering::Relaxed)) >= idle_ms
}

/// Reads replies from the target for one client until the association goes idle.
fn upstream_reader(
    sock: &UdpSocket,
    assoc: &Arc<Assoc>,
    client: SocketAddr,
    assocs: &Assocs,
    epoch: Instant,
    idle: Duration,
    tx: &Sender<(Instant, (SocketAddr, Vec<u8>))>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let now = Instant::now();
                touch(assoc, epoch);
                let Some(data) = buf.get(..n).map(<[u8]>::to_vec) else { continue };
                if tx.send((now, (client, data))).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if is_idle(assoc, epoch, idle) {
                    let mut map = assocs.lock().unwrap_or_else(PoisonError::into_inner);
                    // checked again under the lock: the main loop may just have used it
                    if is_idle(assoc, epoch, idle) {
                        map.remove(&client);
                        log(&format!("udp {client}: association idle, dropped"));
                        return;
                    }
                }
            }
            // ICMP port unreachable from the target, or a signal: keep going
            Err(_) => {}
        }
    }
}
