//! Out of descriptors with no connection to wait for: the stage 2 echo server backs off on a
//! timer instead of spinning (the exam is shared with stages 3 and 4: `support/out_of_fds.rs`).
//! A test binary of its own: the exam lowers the process-wide open-file limit.

#[path = "support/out_of_fds.rs"]
mod out_of_fds;

use std::net::TcpListener;

use stage2_select_callbacks::echo::EchoServer;

#[test]
fn out_of_descriptors_with_no_connection_backs_off_on_a_timer_and_logs_once() {
    let server = EchoServer::start(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    out_of_fds::accepting_backs_off_with_no_connection_to_wait_for(server.addr(), server.stats());
    server.stop().unwrap();
}
