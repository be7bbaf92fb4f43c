//! `--timeline FILE.svg`: a picture of a crawl, drawn from the trace lines.
//!
//! Every crawler of the course can record the lines it would print with `TRACE=1`, each with the
//! time it was made, and draw them as an SVG timeline: one lane per request (connect, send, wait,
//! readable, done) and one lane for the loop, whose sleeps in `select`/`epoll_wait` show as bars.
//! Put the timelines of stages 1, 2, 4 and 5 side by side and the overlap is seen, not read.
//!
//! Nothing here knows any stage: the lanes come from the text of the lines. A line that names a
//! request (`GET /3`) belongs to that request's lane; a line that starts with `loop:`,
//! `executor:`, `scheduler:` or `selector:` belongs to the loop's lane; a loop line that says
//! `sleep` (or `select on`) starts a sleep and the next loop line that says `woke` ends it.
//! Hand-written SVG, no dependency: open the file in any browser.

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::lock;

/// One recorded trace line: microseconds since recording started, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// When the line was made, in microseconds since [`start`].
    pub at_us: u64,
    /// The trace line, without its `[trace]` prefix.
    pub text: String,
}

static ON: AtomicBool = AtomicBool::new(false);
static MARKS: Mutex<Vec<Mark>> = Mutex::new(Vec::new());
static START: Mutex<Option<Instant>> = Mutex::new(None);

/// The most lines one recording keeps (a crawl of 1,000 pages makes about 20,000): past it,
/// lines are dropped rather than growing without bound.
pub const MAX_MARKS: usize = 200_000;

/// Starts recording (clearing an earlier recording); the clock starts now.
pub fn start() {
    *lock(&START) = Some(Instant::now());
    lock(&MARKS).clear();
    ON.store(true, Ordering::Relaxed);
}

/// Is a recording on? Loops that only trace when someone listens ask this too.
#[inline]
pub fn recording() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The time since [`start`] in microseconds (0 if not recording): the trace lines' timestamps.
pub fn elapsed_us() -> u64 {
    lock(&START).map_or(0, |t| t.elapsed().as_micros() as u64)
}

/// Records one line, if a recording is on.
pub fn record(text: &str) {
    if !recording() {
        return;
    }
    let at_us = elapsed_us();
    let mut marks = lock(&MARKS);
    if marks.len() < MAX_MARKS {
        marks.push(Mark { at_us, text: text.to_owned() });
    }
}

/// Stops recording and hands back what was recorded.
pub fn finish() -> Vec<Mark> {
    ON.store(false, Ordering::Relaxed);
    std::mem::take(&mut *lock(&MARKS))
}

/// Stops recording and writes the SVG to `path`; returns the number of lanes drawn.
pub fn write(path: &Path, title: &str) -> io::Result<usize> {
    let marks = finish();
    let (svg, lanes) = render(&marks, title);
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

/// The request a line is about: the `GET /path` it names, if any.
fn request_of(text: &str) -> Option<String> {
    let at = text.find("GET /")?;
    let rest = &text[at + 4..];
    let end =
        rest.find(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == ')').unwrap_or(rest.len());
    Some(format!("GET {}", &rest[..end]))
}

fn is_loop_line(text: &str) -> bool {
    ["loop:", "executor:", "scheduler:", "selector:", "reactor:"].iter().any(|p| text.starts_with(p))
}

/// The colour class of a request's event, from its words.
fn class_of(text: &str) -> &'static str {
    let t = text.to_ascii_lowercase();
    if t.contains("fail") || t.contains("error") {
        "bad"
    } else if t.contains("done") || t.contains("-> 200") || t.contains("finished") {
        "done"
    } else if t.contains("connect") {
        "connect"
    } else if t.contains("sent") || t.contains("send") || t.contains("writ") {
        "send"
    } else if t.contains("read") || t.contains("bytes") || t.contains("ready") {
        "read"
    } else {
        "other"
    }
}

fn lanes_of(marks: &[Mark]) -> Vec<Lane> {
    let mut lanes: Vec<Lane> =
        vec![Lane { name: "loop".into(), kind: LaneKind::Loop, points: vec![], sleeps: vec![] }];
    let mut asleep_since: Option<u64> = None;
    for mark in marks {
        let text = mark.text.as_str();
        if let Some(request) = request_of(text) {
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
            lanes[lane].points.push((mark.at_us, class_of(text), text.to_owned()));
        } else if is_loop_line(text) {
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

/// The SVG for `marks`, and how many lanes it has.
pub fn render(marks: &[Mark], title: &str) -> (String, usize) {
    const LEFT: f64 = 120.0;
    const WIDTH: f64 = 960.0;
    const LANE: f64 = 22.0;
    const TOP: f64 = 44.0;
    let lanes = lanes_of(marks);
    let end_us = marks.iter().map(|m| m.at_us).max().unwrap_or(0).max(1);
    let span_ms = end_us as f64 / 1000.0;
    let x = |us: u64| LEFT + (WIDTH - LEFT - 20.0) * (us as f64 / end_us as f64);
    let height = TOP + LANE * lanes.len() as f64 + 40.0;

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <style>.connect{{fill:#2b6cb0}}.send{{fill:#dd6b20}}.read{{fill:#38a169}}.done{{fill:#1a202c}}\
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
        let _ = writeln!(svg, "<text x=\"8\" y=\"{:.1}\">{}</text>", y + 4.0, escape(&lane.name));
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
        lx += 110.0;
    }
    svg.push_str("</svg>\n");
    (svg, lanes.len())
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
            mark(100_100, "crawler: GET /1 done: 200 OK"),
            mark(100_200, "unrelated line"),
        ];
        let lanes = lanes_of(&marks);
        let names: Vec<&str> = lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["loop", "GET /1", "GET /2"]);
        assert_eq!(lanes[0].sleeps, [(20, 100_000)]);
        assert_eq!(lanes[1].points.iter().map(|p| p.1).collect::<Vec<_>>(), ["connect", "done"]);
    }

    #[test]
    fn the_svg_is_well_formed_and_escaped() {
        let marks = [mark(0, "GET /a<b>: connect & go"), mark(5000, "GET /a<b> done")];
        let (svg, lanes) = render(&marks, "stage <1>");
        assert_eq!(lanes, 1, "a crawl with no loop lines has no loop lane");
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
