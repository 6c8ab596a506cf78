//! Child processes that cannot outlive the test process, and the small waits around them.
//!
//! `Drop` stops servers in an orderly way when a test ends or panics. That does not cover a test
//! process that is killed (a CI timeout, Ctrl-C, `kill -9`) or that exits without running
//! destructors (statics are never dropped), so every child also asks the kernel for
//! `PR_SET_PDEATHSIG`: it gets SIGKILL the moment the test process dies.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// How often the harness polls a process or a log file while it waits for something.
/// Short because a server is usually ready within ~200 ms and the wait is on every test's path.
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How long a SIGTERM'd process gets to exit before it is SIGKILLed. mariadbd with a small
/// buffer pool shuts down in well under a second; 10 s leaves room for a loaded CI machine
/// without letting a hung server stall the suite for long.
pub const TERM_GRACE: Duration = Duration::from_secs(10);

/// A connect attempt to a port that should be listening on loopback. Loopback connects either
/// succeed or are refused at once, so this only bounds a pathological case.
const CONNECT_PROBE_TIMEOUT: Duration = Duration::from_millis(200);

struct SpawnRequest {
    command: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

/// Spawns `command` so that the kernel kills it when this process dies.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the process.
/// Test threads end all the time, and a cluster may be created by one test thread and used by
/// others (kept in a static), so every fork happens on one thread that lives as long as the
/// process.
pub fn spawn_tied(mut command: Command) -> io::Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the hook runs between fork and exec and calls only async-signal-safe functions
    // (setpgid, prctl, getppid); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            // Its own process group, so a Ctrl-C in the terminal reaches only the harness, which
            // then stops its servers in order instead of every server getting SIGINT at once.
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; nobody would signal us then.
            if libc::getppid() != parent {
                return Err(io::Error::other(
                    "parent died before the child was tied to it",
                ));
            }
            Ok(())
        });
    }
    let (reply, response) = mpsc::channel();
    spawner()?
        .send(SpawnRequest { command, reply })
        .map_err(|_| io::Error::other("the process-spawning thread is gone"))?;
    response
        .recv()
        .map_err(|_| io::Error::other("the process-spawning thread dropped the request"))?
}

fn spawner() -> io::Result<&'static mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Result<mpsc::Sender<SpawnRequest>, String>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (sender, requests) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("tern-tests-spawner".into())
            .spawn(move || {
                // The senders live in a static, so this loop (and the thread) lasts as long as
                // the process, which is exactly what PDEATHSIG needs.
                for mut request in requests {
                    let child = request.command.spawn();
                    // The requester may have given up; the child then still gets reaped by
                    // nobody, but it dies with us, so there is nothing better to do.
                    let _ = request.reply.send(child);
                }
            })
            .map(|_| sender)
            .map_err(|e| format!("cannot start the process-spawning thread: {e}"))
    });
    spawner.as_ref().map_err(|e| io::Error::other(e.clone()))
}

/// Sends `signal` to `pid`. A process that is already gone is not an error.
pub fn send_signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(error)
    }
}

/// Waits up to `timeout` for `child` to exit; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// SIGKILLs `child` and reaps it, so its pid is gone from /proc when this returns.
pub fn kill_and_reap(child: &mut Child) -> io::Result<ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    send_signal(child.id(), libc::SIGKILL)?;
    child.wait()
}

/// Waits until `deadline` for a child that was already sent SIGTERM, then SIGKILLs it.
pub fn reap_by(child: &mut Child, deadline: Instant) -> io::Result<ExitStatus> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    match wait_timeout(child, remaining)? {
        Some(status) => Ok(status),
        None => kill_and_reap(child),
    }
}

/// SIGTERM, up to [`TERM_GRACE`] to exit, then SIGKILL.
pub fn terminate(child: &mut Child) -> io::Result<ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    send_signal(child.id(), libc::SIGTERM)?;
    reap_by(child, Instant::now() + TERM_GRACE)
}

/// A TCP port on 127.0.0.1 that was free a moment ago. Someone else can take it before our
/// server binds it; callers that pick ports this way retry on "address in use".
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, CONNECT_PROBE_TIMEOUT).is_ok()
}

/// The current length of a file, 0 if it does not exist yet: where to start reading the lines
/// that a process started from now on will append.
pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The part of a log file after byte `offset`, lossily decoded; empty if the file is missing.
pub fn read_from(path: &Path, offset: u64) -> String {
    let mut text = Vec::new();
    if let Ok(mut file) = fs::File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_end(&mut text);
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The last `lines` lines of a log file, for error messages.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = read_from(path, 0);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = all[start..].join("\n");
    if out.is_empty() {
        out = format!("({} is empty or missing)", path.display());
    }
    out
}
