//! `--timeline FILE.svg`: a picture of a crawl, drawn from the trace lines.
//!
//! Every crawler of the course can record the lines it would print with `TRACE=1`, each with the
//! time it was made, and draw them as an SVG timeline: one lane per request (connect, send, wait,
//! readable, done) and one lane for the loop, whose sleeps in `select`/`epoll_wait` show as bars.
//! Put the timelines of stages 1, 2, 4 and 5 side by side and the overlap is seen, not read.
//!
//! This file is also where a trace line is made: [`trace`] stamps it with the time since the
//! program started, prints it when `TRACE=1` (`[trace +103.412 ms] loop: woke after ...`) and
//! records it when a timeline is being recorded. Stage 2's `trace!` macro, which every later
//! stage uses, comes here; so do stage 1's clients, which have no `trace!`.
//!
//! Nothing here knows any stage: the lanes come from the text of the lines.
//!
//! * A line that names a request (`GET /3`) belongs to that request's lane. The word after the
//!   name says what happened: `connect...`, `sent`/`send...`, `wait...`, `read...`, `done`,
//!   `->` (the response line the demo prints), `resolved`/`complete`, `failed`/`error`; any
//!   other word (`created`, `step`) is drawn grey.
//! * A request line that also names a descriptor (`GET /1: connect started on fd 6`) ties that
//!   fd to the request until the request is done; a later line about `fd 6` that says `ready`
//!   is drawn as "readable" on the request's lane, one that registers it for reading as "wait".
//!   So the selector's own lines show on the lanes without the lesson code naming the path.
//! * A line that starts with `loop:`, `executor:`, `scheduler:`, `selector:`, `reactor:` or
//!   `select:` belongs to the loop's lane; one that says `sleep` (or `select on`) starts a
//!   sleep and the next one that says `woke` ends it.
//!
//! Hand-written SVG, no dependency: open the file in any browser.

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::lock;

/// One recorded trace line: microseconds since the program started, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// When the line was made, in microseconds since the clock started ([`elapsed_us`]).
    pub at_us: u64,
    /// The trace line, without its `[trace ...]` prefix.
    pub text: String,
}

/// Who wants trace lines, in one byte so the check on a hot path is one relaxed load:
/// [`UNREAD`] until `TRACE` is first looked at, then [`PRINT`] and [`RECORD`] bits.
static WANTED: AtomicU8 = AtomicU8::new(UNREAD);
const UNREAD: u8 = 0x80;
const PRINT: u8 = 1;
const RECORD: u8 = 2;
static MARKS: Mutex<Vec<Mark>> = Mutex::new(Vec::new());
static CLOCK: OnceLock<Instant> = OnceLock::new();

/// The most lines one recording keeps (a crawl of 1,000 pages makes about 20,000): past it,
/// lines are dropped rather than growing without bound.
pub const MAX_MARKS: usize = 200_000;

/// Starts the clock the trace lines are stamped with, if it is not running yet. Every crawler
/// demo calls it first thing, so its `+0.000 ms` is the program's start; a program that never
/// calls it starts the clock at its first trace line.
pub fn start_clock() {
    CLOCK.get_or_init(Instant::now);
}

/// The time since the clock started, in microseconds: the trace lines' timestamps.
pub fn elapsed_us() -> u64 {
    CLOCK.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Starts recording (clearing an earlier recording). The clock is not reset: the timeline's
/// times are the ones `TRACE=1` prints.
pub fn start() {
    start_clock();
    lock(&MARKS).clear();
    printing(); // read TRACE first, so the bit set below is not lost to the first read
    WANTED.fetch_or(RECORD, Ordering::Relaxed);
}

/// Is a recording on? Loops that only trace when someone listens ask this too.
#[inline]
pub fn recording() -> bool {
    WANTED.load(Ordering::Relaxed) & RECORD != 0
}

/// Is `TRACE` set (to anything but `0` or nothing)? Reads the environment the first time only,
/// so a loop that asks on every iteration pays one relaxed atomic load.
#[inline]
pub fn printing() -> bool {
    wanted_bits() & PRINT != 0
}

/// [`WANTED`]'s bits, reading `TRACE` the first time.
#[inline]
fn wanted_bits() -> u8 {
    match WANTED.load(Ordering::Relaxed) {
        UNREAD => {
            if std::env::var_os("TRACE").is_some_and(|v| !v.is_empty() && v != "0") {
                WANTED.fetch_or(PRINT, Ordering::Relaxed);
            }
            WANTED.fetch_and(!UNREAD, Ordering::Relaxed) & !UNREAD
        }
        bits => bits,
    }
}

/// Does anybody want trace lines: `TRACE=1`, or a timeline being recorded?
#[inline]
pub fn wanted() -> bool {
    // One load on the hot path: the bits are read (UNREAD is only there before the first call).
    wanted_bits() != 0
}

// ANCHOR: trace
/// Makes one trace line: stamps it, prints `[trace +12.345 ms] {text}` on stderr if `TRACE=1`,
/// and records it if a timeline is being recorded. Costs nothing but a check when neither.
///
/// A failed write is ignored rather than a panic (`eprintln!` panics): with
/// `TRACE=1 ... 2>&1 | head`, stderr goes away while the loop is still talking.
pub fn trace(args: std::fmt::Arguments<'_>) {
    if !wanted() {
        return;
    }
    let at_us = elapsed_us();
    let text = args.to_string();
    if printing() {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "{}", stamped(at_us, &text));
    }
    record_at(at_us, &text);
}

/// `[trace +12.345 ms] text`: the form of every printed trace line.
pub fn stamped(at_us: u64, text: &str) -> String {
    format!("[trace +{}.{:03} ms] {text}", at_us / 1000, at_us % 1000)
}
// ANCHOR_END: trace

/// Records one line (without printing it), if a recording is on: for lines the program shows
/// another way, such as the response lines a crawler demo prints on stdout.
pub fn record(text: &str) {
    if recording() {
        record_at(elapsed_us(), text);
    }
}

fn record_at(at_us: u64, text: &str) {
    if !recording() {
        return;
    }
    let mut marks = lock(&MARKS);
    if marks.len() < MAX_MARKS {
        marks.push(Mark { at_us, text: text.to_owned() });
    }
}

/// Stops recording and hands back what was recorded.
pub fn finish() -> Vec<Mark> {
    WANTED.fetch_and(!RECORD, Ordering::Relaxed);
    std::mem::take(&mut *lock(&MARKS))
}

/// Stops recording and writes the SVG to `path`; returns the number of request lanes drawn.
/// The time axis runs to the last line, or to `span_ms` if that is later: give several
/// pictures the same `span_ms` and they share a scale.
pub fn write(path: &Path, title: &str, span_ms: u64) -> io::Result<usize> {
    let marks = finish();
    let (svg, lanes) = render_with_span(&marks, title, span_ms * 1000);
    std::fs::write(path, svg)?;
    Ok(lanes)
}

/// What a lane is: a request's, or the loop's.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LaneKind {
    Request,
    Loop,
}

struct Lane {
    name: String,
    kind: LaneKind,
    /// Points: (time, colour class, text).
    points: Vec<(u64, &'static str, String)>,
    /// Bars: (from, to), the loop's sleeps.
    sleeps: Vec<(u64, u64)>,
}

/// The request a line is about, `GET /path`, and where its name ends in the text.
fn request_of(text: &str) -> Option<(String, usize)> {
    let at = text.find("GET /")?;
    let rest = &text[at + 4..];
    let len =
        rest.find(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == ')').unwrap_or(rest.len());
    Some((format!("GET {}", &rest[..len]), at + 4 + len))
}

/// The descriptor a line names (`fd 6`), if any.
fn fd_of(text: &str) -> Option<u32> {
    let at = text.find("fd ")?;
    let digits: String = text[at + 3..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn is_loop_line(text: &str) -> bool {
    ["loop:", "executor:", "scheduler:", "selector:", "reactor:", "select:"]
        .iter()
        .any(|p| text.starts_with(p))
}

/// The colour class of a word that says what happened to a request.
fn class_of_word(word: &str) -> &'static str {
    let w = word.to_ascii_lowercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| w.starts_with(p));
    if starts(&["fail", "error"]) {
        "bad"
    } else if starts(&["done", "resolved", "complete", "->"]) {
        "done"
    } else if starts(&["connect"]) {
        "connect"
    } else if starts(&["sent", "send", "request"]) {
        "send"
    } else if starts(&["wait", "receiving"]) {
        "wait"
    } else if starts(&["read"]) {
        "read"
    } else {
        "other"
    }
}

/// The colour class of a request's line: the first word after the request's name, or for a
/// task's step (`step 2: Connecting -> Receiving`) the state it went to.
fn class_of(text: &str, name_end: usize) -> &'static str {
    let rest = text[name_end..].trim_start_matches([')', ':', ' ', ',']);
    if rest.contains("-> error") || rest.contains(" failed") {
        return "bad";
    }
    let first = rest.split_whitespace().next().unwrap_or("");
    if first == "step" {
        if let Some((_, to)) = rest.rsplit_once(" -> ") {
            return class_of_word(to);
        }
    }
    class_of_word(first)
}

fn lanes_of(marks: &[Mark]) -> Vec<Lane> {
    let mut lanes: Vec<Lane> =
        vec![Lane { name: "loop".into(), kind: LaneKind::Loop, points: vec![], sleeps: vec![] }];
    // Which request lane each descriptor belongs to, while its request runs.
    let mut fds: Vec<(u32, usize)> = Vec::new();
    let mut asleep_since: Option<u64> = None;
    for mark in marks {
        let text = mark.text.as_str();
        if let Some((request, name_end)) = request_of(text) {
            let lane = match lanes.iter().position(|l| l.name == request) {
                Some(i) => i,
                None => {
                    lanes.push(Lane {
                        name: request,
                        kind: LaneKind::Request,
                        points: vec![],
                        sleeps: vec![],
                    });
                    lanes.len() - 1
                }
            };
            let class = class_of(text, name_end);
            lanes[lane].points.push((mark.at_us, class, text.to_owned()));
            if class == "done" || class == "bad" {
                fds.retain(|(_, l)| *l != lane);
            } else if let Some(fd) = fd_of(text) {
                fds.retain(|(f, _)| *f != fd);
                fds.push((fd, lane));
            }
            continue;
        }
        if let Some(lane) = fd_of(text).and_then(|fd| fds.iter().find(|(f, _)| *f == fd)).map(|b| b.1) {
            let t = text.to_ascii_lowercase();
            let unregister = t.contains("deregister") || t.contains("unregister");
            if t.contains("ready") {
                lanes[lane].points.push((mark.at_us, "read", text.to_owned()));
            } else if !unregister && (t.contains("for read") || t.contains("register reader")) {
                lanes[lane].points.push((mark.at_us, "wait", text.to_owned()));
            }
        }
        if is_loop_line(text) {
            let t = text.to_ascii_lowercase();
            if t.contains("woke") {
                if let Some(since) = asleep_since.take() {
                    lanes[0].sleeps.push((since, mark.at_us));
                }
            } else if t.contains("sleep") || t.contains("select on") || t.contains("wait on") {
                asleep_since = Some(mark.at_us);
            }
            lanes[0].points.push((mark.at_us, "loop", text.to_owned()));
        }
    }
    if lanes[0].points.is_empty() {
        lanes.remove(0); // a crawler with no loop (stage 1)
    }
    lanes
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A tick step (in ms) that gives about 8 ticks over `span_ms`: 1, 2 or 5 times a power of 10.
fn tick_step(span_ms: f64) -> f64 {
    let raw = (span_ms / 8.0).max(0.001);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power)
}

/// The SVG for `marks`, and how many request lanes it has (the loop's lane not counted).
/// Each request lane's label has `class="lane"`, so a test can count them.
pub fn render(marks: &[Mark], title: &str) -> (String, usize) {
    render_with_span(marks, title, 0)
}

/// [`render`] with a time axis that runs at least to `span_us`.
pub fn render_with_span(marks: &[Mark], title: &str, span_us: u64) -> (String, usize) {
    const LEFT: f64 = 120.0;
    const WIDTH: f64 = 960.0;
    const LANE: f64 = 22.0;
    const TOP: f64 = 44.0;
    let lanes = lanes_of(marks);
    let end_us = marks.iter().map(|m| m.at_us).max().unwrap_or(0).max(span_us).max(1);
    let span_ms = end_us as f64 / 1000.0;
    let x = |us: u64| LEFT + (WIDTH - LEFT - 20.0) * (us as f64 / end_us as f64);
    let height = TOP + LANE * lanes.len() as f64 + 40.0;

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <style>.connect{{fill:#2b6cb0}}.send{{fill:#dd6b20}}.wait{{fill:#d69e2e}}.read{{fill:#38a169}}.done{{fill:#1a202c}}\
         .bad{{fill:#e53e3e}}.other{{fill:#718096}}.loop{{fill:#805ad5}}.sleep{{fill:#e9d8fd}}\
         .life{{stroke:#cbd5e0;stroke-width:6}}.grid{{stroke:#edf2f7}}</style>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        escape(title)
    );
    // The millisecond axis, with a grid line per tick.
    let step = tick_step(span_ms);
    let axis_y = TOP + LANE * lanes.len() as f64 + 8.0;
    let mut tick = 0.0;
    while tick <= span_ms + 1e-9 {
        let tx = x((tick * 1000.0) as u64);
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{tx:.1}\" y1=\"{TOP}\" x2=\"{tx:.1}\" y2=\"{axis_y}\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            axis_y + 14.0,
            if step < 1.0 { format!("{tick:.1}") } else { format!("{tick:.0}") }
        );
        tick += step;
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">ms</text>",
        WIDTH - 8.0,
        axis_y + 28.0
    );

    for (i, lane) in lanes.iter().enumerate() {
        let y = TOP + LANE * i as f64 + LANE / 2.0;
        let class = if lane.kind == LaneKind::Request { " class=\"lane\"" } else { "" };
        let _ = writeln!(svg, "<text{class} x=\"8\" y=\"{:.1}\">{}</text>", y + 4.0, escape(&lane.name));
        if lane.kind == LaneKind::Request {
            if let (Some(first), Some(last)) = (lane.points.first(), lane.points.last()) {
                let _ = writeln!(
                    svg,
                    "<line class=\"life\" x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>",
                    x(first.0),
                    x(last.0).max(x(first.0) + 1.0)
                );
            }
        }
        for (from, to) in &lane.sleeps {
            let _ = writeln!(
                svg,
                "<rect class=\"sleep\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\">\
                 <title>asleep in the selector for {:.1} ms</title></rect>",
                x(*from),
                y - LANE / 2.0 + 3.0,
                (x(*to) - x(*from)).max(1.0),
                LANE - 6.0,
                (to - from) as f64 / 1000.0
            );
        }
        for (at, class, text) in &lane.points {
            let _ = writeln!(
                svg,
                "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{y:.1}\" r=\"3\"><title>{:.3} ms: {}</title></circle>",
                x(*at),
                *at as f64 / 1000.0,
                escape(text)
            );
        }
    }
    // The legend.
    let legend = [
        ("connect", "connect"),
        ("send", "send"),
        ("wait", "wait"),
        ("read", "readable / read"),
        ("done", "done"),
        ("sleep", "loop asleep"),
    ];
    let mut lx = LEFT;
    for (class, label) in legend {
        let _ = writeln!(
            svg,
            "<rect class=\"{class}\" x=\"{lx:.1}\" y=\"26\" width=\"10\" height=\"10\"/>\
             <text x=\"{:.1}\" y=\"35\">{label}</text>",
            lx + 14.0
        );
        lx += 100.0;
    }
    svg.push_str("</svg>\n");
    (svg, lanes.iter().filter(|l| l.kind == LaneKind::Request).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(at_us: u64, text: &str) -> Mark {
        Mark { at_us, text: text.to_owned() }
    }

    #[test]
    fn lanes_come_from_the_lines() {
        let marks = [
            mark(0, "crawler: GET /1: connect started on fd 5"),
            mark(10, "crawler: GET /2: connect started on fd 6"),
            mark(20, "loop: select on 2 fds"),
            mark(100_000, "loop: woke after 99.9 ms with 1 events"),
            mark(100_050, "loop: fd 5 ready, run its reader"),
            mark(100_100, "crawler: GET /1 done: 200 OK"),
            mark(100_150, "loop: fd 5 ready, run its reader"),
            mark(100_200, "unrelated line"),
        ];
        let lanes = lanes_of(&marks);
        let names: Vec<&str> = lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["loop", "GET /1", "GET /2"]);
        assert_eq!(lanes[0].sleeps, [(20, 100_000)]);
        // fd 5 was GET /1's until it was done: the second "ready" is nobody's.
        let classes: Vec<&str> = lanes[1].points.iter().map(|p| p.1).collect();
        assert_eq!(classes, ["connect", "read", "done"]);
        assert_eq!(lanes[0].points.len(), 4);
    }

    #[test]
    fn the_word_after_the_request_says_what_happened() {
        let class = |text: &str| {
            let (_, end) = request_of(text).unwrap();
            class_of(text, end)
        };
        assert_eq!(class("crawler: GET /1: sent the request (42 bytes)"), "send");
        assert_eq!(class("GET /1: read returned 176 bytes"), "read");
        assert_eq!(class("GET /1 -> 200 OK, 78 bytes"), "done");
        assert_eq!(class("GET /1 -> error: connecting: refused"), "bad");
        assert_eq!(class("future: fut#1 (GET /1) created"), "other");
        assert_eq!(class("future: fut#1 (GET /1) resolved, 1 callback(s) scheduled"), "done");
        assert_eq!(
            class("task 1 (GET /1) step 1: Start -> Connecting, yields fut#3 (writable fd 6)"),
            "connect"
        );
        assert_eq!(class("task 1 (GET /1) step 2: Connecting -> Receiving > ReadToEnd::Waiting"), "wait");
    }

    #[test]
    fn trace_lines_are_stamped_in_milliseconds() {
        assert_eq!(stamped(103_412, "loop: woke"), "[trace +103.412 ms] loop: woke");
        assert_eq!(stamped(7, "x"), "[trace +0.007 ms] x");
    }

    #[test]
    fn the_svg_is_well_formed_and_escaped() {
        let marks = [mark(0, "GET /a<b>: connect & go"), mark(5000, "GET /a<b> done")];
        let (svg, lanes) = render(&marks, "stage <1>");
        assert_eq!(lanes, 1);
        assert!(!svg.contains(">loop<"), "a crawl with no loop lines has no loop lane");
        assert_eq!(svg.matches("class=\"lane\"").count(), 1);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("stage &lt;1&gt;") && svg.contains("connect &amp; go"));
        assert!(!svg.contains("<b>"), "text from the trace must be escaped");
        assert_eq!(svg.matches("<circle").count(), 2);
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(100.0), 20.0);
        assert_eq!(tick_step(1000.0), 200.0);
        assert_eq!(tick_step(3.0), 0.5);
    }
}
