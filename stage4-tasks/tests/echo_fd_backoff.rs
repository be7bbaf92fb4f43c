//! Out of descriptors with no connection to wait for: the stage 4 echo server's accept task
//! backs off on a timer instead of spinning. The exam is stage 2's (`support/out_of_fds.rs`
//! there), taken by every event-loop echo server; a test binary of its own, since it lowers
//! the open-file limit.

#[path = "../../stage2-select-callbacks/tests/support/out_of_fds.rs"]
mod out_of_fds;

use stage2_select_callbacks::selector::Selector;
use stage4_tasks::echo::EchoServer;

#[test]
fn out_of_descriptors_with_no_connection_backs_off_on_a_timer_and_logs_once() {
    let server = EchoServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let (addr, stats) = (server.local_addr().unwrap(), server.stats());
    let selector = Selector::new().unwrap();
    std::thread::spawn(move || server.run_with(selector));
    out_of_fds::accepting_backs_off_with_no_connection_to_wait_for(addr, &stats);
}
