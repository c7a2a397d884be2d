//! Terminating TCP relay: one upstream connection per accepted connection, bytes copied both
//! ways, the listen (controller) leg held `D/2` each way. Half-close (EOF) is passed on as a
//! write shutdown once the bytes before it have been released; a reset or write error closes
//! both sides.
//!
//! With `--jitter-ms J` each chunk's hold moves by a uniform draw within ±J ms, one seeded
//! stream of draws per connection and direction; chunks still leave in order (a byte stream).
//!
//! The kernel completes the TCP handshake on the listen side itself, so the handshake is not
//! delayed: only the bytes are (as with a relay that accepts first and talks later).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};

use crate::delay::{Flow, half_of_ms, pump};
use crate::shape::Shaping;
use crate::{Disturb, banner, log, spawn};

/// Bytes read per chunk.
const CHUNK: usize = 16 * 1024;
/// Chunks queued per direction before the reader waits (back-pressure).
const QUEUE: usize = 4096;
/// How long to try the upstream connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What travels through a direction's delay line.
#[derive(Debug)]
enum Chunk {
    /// Bytes read from the source.
    Data(Vec<u8>),
    /// The source half-closed.
    Eof,
    /// The source failed (reset): close everything.
    Abort,
}

/// Accepts connections on `listen` forever, relaying each to `connect`.
pub fn run(listen: SocketAddr, connect: SocketAddr, delay_ms: u64, disturb: Disturb) -> Result<(), String> {
    let listener = TcpListener::bind(listen).map_err(|e| format!("cannot listen on tcp {listen}: {e}"))?;
    let half = half_of_ms(delay_ms);
    banner(&format!(
        "tcp relay {listen} -> {connect}, holding {:.1} ms each way on the listen side (+{delay_ms} ms round trip){}",
        half.as_secs_f64() * 1000.0,
        disturb.describe()
    ));
    let mut accepted: u64 = 0;
    loop {
        match listener.accept() {
            Ok((client, peer)) => {
                // two streams of draws per connection: towards the target, towards the client
                let stream = accepted.wrapping_mul(2);
                let shaping = [disturb.jitter(stream), disturb.jitter(stream.wrapping_add(1))];
                accepted = accepted.wrapping_add(1);
                let spawned = spawn("tcp-conn", move || connection(client, peer, connect, half, shaping));
                if let Err(e) = spawned {
                    log(&format!("tcp {peer}: cannot start a thread: {e}"));
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                log(&format!("tcp accept: {e}"));
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Relays one accepted connection until both directions are done.
fn connection(client: TcpStream, peer: SocketAddr, target: SocketAddr, half: Duration, shaping: [Shaping; 2]) {
    let upstream = match TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(e) => {
            log(&format!("tcp {peer}: cannot connect to {target}: {e}; closing"));
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    // the upstream side's own address: what the target (and a capture next to it) sees
    let via = upstream.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
    log(&format!("tcp {peer} -> {target} from {via}: open"));
    if let Err(e) = relay_both_ways(&client, &upstream, half, shaping) {
        log(&format!("tcp {peer}: {e}"));
        let _ = client.shutdown(Shutdown::Both);
        let _ = upstream.shutdown(Shutdown::Both);
    }
    log(&format!("tcp {peer} -> {target}: closed"));
}

/// Starts the two readers and the upstream-bound pump, runs the client-bound pump here, and
/// waits for all of them.
fn relay_both_ways(
    client: &TcpStream,
    upstream: &TcpStream,
    half: Duration,
    shaping: [Shaping; 2],
) -> std::io::Result<()> {
    let [to_up_shaping, to_client_shaping] = shaping;
    let (to_up_tx, to_up_rx) = bounded::<(Instant, Chunk)>(QUEUE);
    let (to_client_tx, to_client_rx) = bounded::<(Instant, Chunk)>(QUEUE);

    let r1 = {
        let src = client.try_clone()?;
        spawn("tcp-read-c", move || reader(src, &to_up_tx))?
    };
    let r2 = {
        let src = upstream.try_clone()?;
        spawn("tcp-read-u", move || reader(src, &to_client_tx))?
    };
    let p1 = {
        let (src, dst) = (client.try_clone()?, upstream.try_clone()?);
        spawn("tcp-pump-u", move || pump(&to_up_rx, half, to_up_shaping, |c| deliver(c, &src, &dst)))?
    };
    let (src, dst) = (upstream.try_clone()?, client.try_clone()?);
    pump(&to_client_rx, half, to_client_shaping, |c| deliver(c, &src, &dst));
    for h in [r1, r2, p1] {
        let _ = h.join();
    }
    Ok(())
}

/// Reads `src` until EOF or error, stamping each chunk with its arrival time.
fn reader(mut src: TcpStream, tx: &Sender<(Instant, Chunk)>) {
    loop {
        let mut buf = vec![0u8; CHUNK];
        match src.read(&mut buf) {
            Ok(0) => {
                let _ = tx.send((Instant::now(), Chunk::Eof));
                return;
            }
            Ok(n) => {
                let now = Instant::now();
                buf.truncate(n);
                if tx.send((now, Chunk::Data(buf))).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                let _ = tx.send((Instant::now(), Chunk::Abort));
                return;
            }
        }
    }
}

/// Delivers one released chunk from `src` to `dst`.
fn deliver(chunk: Chunk, src: &TcpStream, mut dst: &TcpStream) -> Flow {
    match chunk {
        Chunk::Data(bytes) => match dst.write_all(&bytes) {
            Ok(()) => Flow::Continue,
            Err(_) => {
                let _ = dst.shutdown(Shutdown::Both);
                let _ = src.shutdown(Shutdown::Both);
                Flow::Stop
            }
        },
        Chunk::Eof => {
            let _ = dst.shutdown(Shutdown::Write);
            Flow::Continue
        }
        Chunk::Abort => {
            let _ = dst.shutdown(Shutdown::Both);
            let _ = src.shutdown(Shutdown::Both);
            Flow::Stop
        }
    }
}
