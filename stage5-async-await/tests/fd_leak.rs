//! No fd leaks: aborted tasks, dropped sockets and dropped runtimes give back every fd.
//! One #[test] in its own binary, because tests in one process share the fd table.

mod guard;

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use stage5_async_await::net::{TcpListener, TcpStream};
use stage5_async_await::time::sleep;
use stage5_async_await::{Runtime, spawn, yield_now};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

#[test]
fn aborting_tasks_and_dropping_the_runtime_closes_every_fd() {
    let _guard = guard::watchdog();
    if !std::path::Path::new("/proc/self/fd").exists() {
        eprintln!("no /proc/self/fd on this system: nothing to count");
        return;
    }
    const CLIENTS: usize = 50;
    let before = open_fds();
    {
        let rt = Runtime::new().unwrap();
        // The runtime itself holds two fds: the selector (epoll) and the wake fd (eventfd).
        let runtime_fds = open_fds() - before;
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let accepted = Rc::new(Cell::new(0));
            let connected = Rc::new(Cell::new(0));
            let server = spawn({
                let accepted = accepted.clone();
                async move {
                    let mut held = Vec::new();
                    loop {
                        let (s, _) = listener.accept().await.unwrap();
                        held.push(s); // held forever: only abort can free them
                        accepted.set(accepted.get() + 1);
                    }
                }
            });
            // Clients parked in a read that never completes, then in an hour-long sleep.
            let mut clients = Vec::new();
            for _ in 0..CLIENTS {
                let connected = connected.clone();
                clients.push(spawn(async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    connected.set(connected.get() + 1);
                    let mut buf = [0u8; 1];
                    let _ = s.read(&mut buf).await;
                    sleep(Duration::from_secs(3600)).await;
                }));
            }
            while accepted.get() < CLIENTS || connected.get() < CLIENTS {
                yield_now().await;
            }
            // listener + CLIENTS accepted + CLIENTS connected.
            assert_eq!(open_fds(), before + runtime_fds + 1 + 2 * CLIENTS);

            // Abort the server and every other client: their sockets close and leave the
            // reactor as their futures are dropped.
            server.abort();
            assert!(server.await.unwrap_err().is_cancelled());
            let mut kept = Vec::new();
            for (i, c) in clients.into_iter().enumerate() {
                if i % 2 == 0 {
                    c.abort();
                    assert!(c.await.unwrap_err().is_cancelled());
                } else {
                    kept.push(c);
                }
            }
            assert_eq!(open_fds(), before + runtime_fds + CLIENTS / 2);
            // The kept half is still parked (reading, then sleeping) when the runtime drops.
        });
    }
    assert_eq!(open_fds(), before, "every socket, the epoll fd and the eventfd are closed");
}
