//! A small hand-written command-line parser, shared by every binary of the workspace, and the
//! helpers every client demo uses (start the demo server, print a response line, print the
//! summary, fail with one clear line).
//!
//! ```text
//! --count 5     --count=5     (options take a value, in either form)
//! --trickle                   (switches take none)
//! --help, -h                  (usage on stdout, exit 0)
//! --                          (everything after it is positional)
//! ```
//!
//! A mistake gets two lines on stderr, one naming it and one pointing at the help
//! (`error: unknown flag --bogus`, `try 'stage6-server --help'`), and exit code 2, the
//! convention of Unix tools for "you called me wrong" (the whole usage would bury the error).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::demo::{DemoConfig, DemoServer};
use super::timeline;
use crate::http::Response;

#[derive(Debug, Clone)]
struct FlagSpec {
    name: String,
    /// `Some("ADDR")` for an option, `None` for a switch.
    value_name: Option<String>,
    help: String,
}

/// A command-line description: program name, one-line about, flags and positionals.
/// Build it with [`Cli::new`], [`Cli::option`], [`Cli::switch`], [`Cli::positional`], then
/// call [`Cli::parse`].
#[derive(Debug, Clone)]
pub struct Cli {
    program: String,
    about: String,
    flags: Vec<FlagSpec>,
    positionals: Vec<(String, String)>,
}

/// What went wrong while parsing (or that `--help` was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// `--help` or `-h`: not a mistake, but parsing stops and the usage is printed.
    Help,
    /// A flag that was not declared.
    UnknownFlag(String),
    /// An option given as the last argument, with no value after it.
    MissingValue(String),
    /// `--switch=value`: switches take no value.
    UnexpectedValue(String),
    /// An option whose value does not parse as the type the program asked for.
    BadValue {
        /// The flag, e.g. `--count`.
        flag: String,
        /// The value as typed.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A positional argument although the program takes none (or no more).
    UnexpectedPositional(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Help => write!(f, "help requested"),
            CliError::UnknownFlag(flag) => write!(f, "unknown flag {flag}"),
            CliError::MissingValue(flag) => write!(f, "flag {flag} needs a value"),
            CliError::UnexpectedValue(flag) => write!(f, "flag {flag} takes no value"),
            CliError::BadValue { flag, value, reason } => {
                write!(f, "bad value {value:?} for {flag}: {reason}")
            }
            CliError::UnexpectedPositional(arg) => write!(f, "unexpected argument {arg:?}"),
        }
    }
}

impl std::error::Error for CliError {}

impl Cli {
    /// A parser for `program`, described by `about` in the usage text.
    pub fn new(program: &str, about: &str) -> Cli {
        Cli {
            program: program.to_string(),
            about: about.to_string(),
            flags: Vec::new(),
            positionals: Vec::new(),
        }
    }

    /// Declares an option that takes a value: `.option("--addr", "ADDR", "where to connect")`.
    pub fn option(mut self, name: &str, value_name: &str, help: &str) -> Cli {
        self.flags.push(FlagSpec {
            name: name.to_string(),
            value_name: Some(value_name.to_string()),
            help: help.to_string(),
        });
        self
    }

    /// Declares a boolean switch: `.switch("--trickle", "send responses in small pieces")`.
    pub fn switch(mut self, name: &str, help: &str) -> Cli {
        self.flags.push(FlagSpec { name: name.to_string(), value_name: None, help: help.to_string() });
        self
    }

    /// Declares an optional positional argument (they are filled in declaration order).
    pub fn positional(mut self, name: &str, help: &str) -> Cli {
        self.positionals.push((name.to_string(), help.to_string()));
        self
    }

    /// The usage text printed by `--help`.
    pub fn usage(&self) -> String {
        let mut out = format!("{}\n\nUsage: {} [OPTIONS]", self.about, self.program);
        for (name, _) in &self.positionals {
            out.push_str(&format!(" [{name}]"));
        }
        out.push('\n');
        if !self.positionals.is_empty() {
            out.push_str("\nArguments:\n");
            for (name, help) in &self.positionals {
                out.push_str(&format!("  {name:<20} {help}\n"));
            }
        }
        out.push_str("\nOptions:\n");
        // One column for every help text: 20 wide, or as wide as the longest flag needs.
        let left_len = |f: &FlagSpec| f.name.len() + f.value_name.as_ref().map_or(0, |v| 1 + v.len());
        let width = self.flags.iter().map(left_len).max().unwrap_or(0).max(20);
        for flag in &self.flags {
            let left = match &flag.value_name {
                Some(v) => format!("{} {v}", flag.name),
                None => flag.name.clone(),
            };
            out.push_str(&format!("  {left:<width$} {}\n", flag.help));
        }
        out.push_str(&format!("  {:<width$} {}\n", "-h, --help", "print this help and exit"));
        out
    }

    /// Parses `std::env::args()`. `--help` prints the usage and exits 0; a mistake prints one
    /// line naming it and one pointing at `--help` on stderr and exits 2.
    pub fn parse(self) -> Args {
        let usage = self.usage();
        let program = self.program.clone();
        // args_os, not args: `std::env::args` panics on an argument that is not UTF-8. A
        // mangled argument then fails as an unknown flag or a bad value, with a message.
        let args = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned());
        match self.parse_from(args) {
            Ok(args) => args,
            Err(CliError::Help) => {
                // `--help | head -1` may close stdout early: the usage was wanted, not an error.
                use std::io::Write;
                let _ = std::io::stdout().lock().write_all(usage.as_bytes());
                std::process::exit(0);
            }
            Err(e) => usage_error(&e, &program),
        }
    }

    // ANCHOR: parse_from
    /// Parses `args`, which do NOT include the program name (pass what
    /// `std::env::args().skip(1)` gives). Never prints or exits, so tests can call it.
    pub fn parse_from(self, args: impl IntoIterator<Item = String>) -> Result<Args, CliError> {
        let mut values: HashMap<String, String> = HashMap::new();
        let mut switches: Vec<String> = Vec::new();
        let mut positionals: Vec<String> = Vec::new();
        let mut args = args.into_iter();
        let mut only_positionals = false;

        while let Some(arg) = args.next() {
            if only_positionals || !arg.starts_with('-') || arg == "-" {
                if positionals.len() >= self.positionals.len() {
                    return Err(CliError::UnexpectedPositional(arg));
                }
                positionals.push(arg);
                continue;
            }
            if arg == "--" {
                only_positionals = true;
                continue;
            }
            if arg == "--help" || arg == "-h" {
                return Err(CliError::Help);
            }
            // "--count=5" is the same as "--count 5".
            let (name, inline_value) = match arg.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => (arg.clone(), None),
            };
            let Some(spec) = self.flags.iter().find(|f| f.name == name) else {
                return Err(CliError::UnknownFlag(name));
            };
            match (&spec.value_name, inline_value) {
                (None, None) => switches.push(name),
                (None, Some(_)) => return Err(CliError::UnexpectedValue(name)),
                (Some(_), Some(value)) => {
                    values.insert(name, value);
                }
                (Some(_), None) => {
                    // The next argument is the value, even if it starts with '-' ("--delay -5"
                    // then fails as a bad number, which names the real problem).
                    let value = args.next().ok_or_else(|| CliError::MissingValue(name.clone()))?;
                    values.insert(name, value);
                }
            }
        }
        let (usage, program, declared) = (self.usage(), self.program, self.flags);
        Ok(Args { usage, program, values, switches, positionals, declared })
    }
    // ANCHOR_END: parse_from
}

/// The two lines a usage mistake prints: `error: {e}` and `try '{program} --help'`.
fn usage_error_text(e: &dyn fmt::Display, program: &str) -> String {
    format!("error: {e}\ntry '{program} --help'\n")
}

/// Prints [`usage_error_text`] to stderr, exits 2.
/// (A failed write is ignored: with stderr gone the exit status is all that is left to say
/// it, and `eprintln!` would turn exit 2 into a panic's 101.)
fn usage_error(e: &dyn fmt::Display, program: &str) -> ! {
    use std::io::Write;
    let _ = std::io::stderr().write_all(usage_error_text(e, program).as_bytes());
    std::process::exit(2);
}

/// The result of a successful parse.
#[derive(Debug, Clone)]
pub struct Args {
    usage: String,
    program: String,
    values: HashMap<String, String>,
    switches: Vec<String>,
    positionals: Vec<String>,
    declared: Vec<FlagSpec>,
}

impl Args {
    fn check_declared(&self, name: &str) {
        // Asking for a flag the program never declared is a bug in the program, not a user
        // mistake: catch it in debug builds.
        debug_assert!(self.declared.iter().any(|f| f.name == name), "flag {name} was never declared");
    }

    /// Whether the switch `name` (e.g. `"--trickle"`) was given.
    pub fn switch(&self, name: &str) -> bool {
        self.check_declared(name);
        self.switches.iter().any(|s| s == name)
    }

    /// The value of option `name` parsed as `T`, without exiting on a bad value.
    pub fn try_value<T: FromStr>(&self, name: &str) -> Result<Option<T>, CliError>
    where
        T::Err: fmt::Display,
    {
        self.check_declared(name);
        let Some(raw) = self.values.get(name) else { return Ok(None) };
        raw.parse::<T>().map(Some).map_err(|e| CliError::BadValue {
            flag: name.to_string(),
            value: raw.clone(),
            reason: e.to_string(),
        })
    }

    /// The value of option `name` parsed as `T`; `None` if absent. A value that does not parse
    /// prints one line naming the flag and the value, one pointing at `--help`, and exits 2.
    pub fn value<T: FromStr>(&self, name: &str) -> Option<T> {
        self.check_declared(name);
        let raw = self.values.get(name)?;
        match raw.parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                let e = CliError::BadValue {
                    flag: name.to_string(),
                    value: raw.clone(),
                    reason: format!("expected {}", type_hint::<T>()),
                };
                usage_error(&e, &self.program)
            }
        }
    }

    /// Like [`Args::value`], with a default when the option is absent.
    pub fn value_or<T: FromStr>(&self, name: &str, default: T) -> T {
        self.value(name).unwrap_or(default)
    }

    /// A duration given in whole milliseconds (`--delay 100`), or `default_ms`.
    pub fn duration_ms(&self, name: &str, default_ms: u64) -> Duration {
        Duration::from_millis(self.value_or(name, default_ms))
    }

    /// The positional arguments, in order.
    pub fn positionals(&self) -> &[String] {
        &self.positionals
    }

    /// Positional argument number `index` (from 0), named `name` in the usage, parsed as `T`;
    /// `default` if absent. A value that does not parse prints one line naming it, one pointing
    /// at `--help`, and exits 2, like a bad flag value.
    pub fn positional_or<T: FromStr>(&self, index: usize, name: &str, default: T) -> T {
        let Some(raw) = self.positionals.get(index) else { return default };
        raw.parse().unwrap_or_else(|_| {
            let reason = format!("expected {}", type_hint::<T>());
            let e = CliError::BadValue { flag: name.to_string(), value: raw.clone(), reason };
            usage_error(&e, &self.program)
        })
    }

    /// Refuses a value that parsed but is out of range (`stage4-fib 200`: a number, but its
    /// answer does not fit in a u64). Prints `error: bad value "200" for N: {reason}` and
    /// `try 'PROGRAM --help'` on stderr and exits 2, exactly like a value that does not parse.
    pub fn bad_value(&self, name: &str, value: &str, reason: &str) -> ! {
        let e = CliError::BadValue {
            flag: name.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        usage_error(&e, &self.program)
    }

    /// The usage text, for programs that find a problem after parsing.
    pub fn usage(&self) -> &str {
        &self.usage
    }
}

/// A human name for the type a flag wants ("a whole number", "an address like 127.0.0.1:8000").
fn type_hint<T>() -> String {
    let name = std::any::type_name::<T>();
    match name {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number >= 0".to_string(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".to_string(),
        "f32" | "f64" => "a number".to_string(),
        _ if name.starts_with("core::num::nonzero::NonZero<u") => "a whole number >= 1".to_string(),
        "core::net::socket_addr::SocketAddr" | "std::net::SocketAddr" => {
            "an address like 127.0.0.1:8000".to_string()
        }
        other => format!("a value of type {}", other.rsplit("::").next().unwrap_or(other)),
    }
}

// ANCHOR: client_args
/// The flags every crawler demo shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientArgs {
    /// `--addr`: a server to talk to; `None` starts the demo server in-process.
    pub addr: Option<SocketAddr>,
    /// `--count`: how many pages to fetch, `/1` .. `/count` (default 10).
    pub count: usize,
    /// `--delay`: the in-process demo server's delay per request (default 100 ms).
    pub delay: Duration,
    /// `--trickle`: the in-process demo server sends responses in small pieces.
    pub trickle: bool,
    /// `--timeline`: write an SVG timeline of the crawl, drawn from its trace lines, here.
    pub timeline: Option<PathBuf>,
    /// `--timeline-ms`: the timeline's axis runs at least this far (pictures that share it
    /// share a scale); 0 = to the last line.
    pub timeline_ms: u64,
}

impl ClientArgs {
    /// A [`Cli`] with `--addr`, `--count`, `--delay`, `--trickle`, `--timeline` declared; add
    /// more if needed.
    pub fn cli(program: &str, about: &str) -> Cli {
        Cli::new(program, about)
            .option(
                "--addr",
                "ADDR",
                "server to fetch from, e.g. 127.0.0.1:8000 (default: start the demo server in-process)",
            )
            .option("--count", "N", "fetch /1 .. /N (default 10)")
            .option("--delay", "MS", "in-process demo server: delay per request in ms (default 100)")
            .switch("--trickle", "in-process demo server: send responses in small pieces")
            .option("--timeline", "FILE.svg", "draw the crawl's trace lines as an SVG timeline in FILE.svg")
            .option("--timeline-ms", "MS", "the timeline's axis runs at least to MS (default: to the end)")
    }

    /// Reads the shared flags (exits 2 on a bad value).
    pub fn from_args(args: &Args) -> ClientArgs {
        ClientArgs {
            addr: args.value("--addr"),
            count: args.value_or("--count", 10),
            delay: args.duration_ms("--delay", 100),
            trickle: args.switch("--trickle"),
            timeline: args.value("--timeline"),
            timeline_ms: args.value_or("--timeline-ms", 0),
        }
    }
}
// ANCHOR_END: client_args

/// The server to talk to: the `--addr` given, or a demo server started here (kept running by
/// the returned guard; it stops when the guard is dropped). Exits 1 with one line on error.
pub fn target(args: &ClientArgs) -> (Option<DemoServer>, SocketAddr) {
    if let Some(addr) = args.addr {
        return (None, addr);
    }
    let config = DemoConfig { delay: args.delay, trickle: args.trickle };
    match DemoServer::start(config) {
        Ok(server) => {
            let addr = server.addr();
            let trickle = if args.trickle { ", trickle" } else { "" };
            say(format_args!("demo server on http://{addr} (delay {} ms{trickle})", args.delay.as_millis()));
            (Some(server), addr)
        }
        Err(e) => fail(format!("cannot start the demo server: {e}")),
    }
}

/// `"GET /3 -> 200 OK, 52 bytes"` (the body's length).
pub fn response_line(path: &str, response: &Response) -> String {
    format!("GET {path} -> {} {}, {} bytes", response.status, response.reason, response.body.len())
}

/// `"GET /3 -> error: connecting to 127.0.0.1:9: Connection refused"`: the line for a request
/// that failed, with the error's whole chain of causes.
pub fn error_line(path: &str, error: &dyn fmt::Display) -> String {
    format!("GET {path} -> error: {error:#}")
}

/// What a crawler demo hands each finished request to: it prints the request's line
/// ([`response_line`] or [`error_line`]) and counts the failures, which decide the exit code.
///
/// Cheap to clone and `Send`, so a callback, a task or another thread can own a copy.
#[derive(Debug, Clone, Default)]
pub struct Report {
    failures: Arc<AtomicUsize>,
}

impl Report {
    /// Prints the line for one finished request: `GET /3 -> 200 OK, 52 bytes`, or
    /// `GET /3 -> error: ...` (and counts it as a failure).
    /// The line also goes into a `--timeline` being recorded (it is printed on stdout, not
    /// as a trace line).
    pub fn response<E: fmt::Display>(&self, path: &str, result: &Result<Response, E>) {
        let line = match result {
            Ok(response) => response_line(path, response),
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                error_line(path, e)
            }
        };
        timeline::record(&line);
        say(line);
    }

    /// How many requests failed so far.
    pub fn failures(&self) -> usize {
        self.failures.load(Ordering::Relaxed)
    }
}

// ANCHOR: crawler_demo
/// The client demo every stage shares; `crawl` is the only part that differs between stages.
///
/// 1. parses the [`ClientArgs`] flags (`--help`, bad flags: exit 0 / exit 2);
/// 2. finds the server with [`target`] (starting the demo server in-process if no `--addr`);
/// 3. calls `crawl(addr, paths, report)` with the paths `/1` .. `/N` and times it. `crawl`
///    fetches them however its stage does, passes each outcome to [`Report::response`] as it
///    finishes, and returns how many threads it used (1 for every event-loop stage);
/// 4. with `--timeline FILE.svg`, draws the trace lines the crawl made (recorded whether or
///    not `TRACE=1` prints them) as an SVG timeline in that file ([`timeline`]);
/// 5. prints the [`summary_line`] (the stage is `program` up to its first `-`: `stage3-client`
///    -> `stage3`), and exits 1 if any request failed.
///
/// An error returned by `crawl` (the loop itself broke) is printed as one `error: ...` line,
/// exit 1.
///
/// ```no_run
/// use anyhow::Context;
/// use stage1_blocking::http;
/// use stage1_blocking::workshop::cli;
///
/// // A blocking crawler: one request after another on this thread.
/// cli::run_crawler_demo("stage1-client", "Fetch /1 .. /N one after another.", |addr, paths, report| {
///     for path in paths {
///         report.response(path, &http::get(addr, path));
///     }
///     Ok(1) // one thread did all the work
/// });
/// ```
pub fn run_crawler_demo(
    program: &str,
    about: &str,
    crawl: impl FnOnce(SocketAddr, &[String], Report) -> anyhow::Result<usize>,
) {
    run_crawler_demo_with(program, about, |cli| cli, |_| crawl);
}
// ANCHOR_END: crawler_demo

/// [`run_crawler_demo`] for a stage whose crawler takes flags of its own: `more_flags` adds
/// them to the shared [`ClientArgs`] ones (they show in `--help`), and `crawler` reads them
/// from the parsed [`Args`] and returns the `crawl` function. It runs right after parsing,
/// before any demo server starts, so a bad value of a stage's own flag exits 2 at once, like
/// a bad value of a shared one.
///
/// ```no_run
/// use stage1_blocking::http;
/// use stage1_blocking::workshop::cli;
///
/// cli::run_crawler_demo_with(
///     "stageN-client",
///     "Fetch /1 .. /N, with a flag of our own.",
///     |cli| cli.switch("--reverse", "fetch the pages in reverse order"),
///     |args| {
///         let reverse = args.switch("--reverse");
///         move |addr, paths, report| {
///             let mut paths = paths.to_vec();
///             if reverse {
///                 paths.reverse();
///             }
///             for path in &paths {
///                 report.response(path, &http::get(addr, path));
///             }
///             Ok(1)
///         }
///     },
/// );
/// ```
pub fn run_crawler_demo_with<C>(
    program: &str,
    about: &str,
    more_flags: impl FnOnce(Cli) -> Cli,
    crawler: impl FnOnce(&Args) -> C,
) where
    C: FnOnce(SocketAddr, &[String], Report) -> anyhow::Result<usize>,
{
    // The trace lines' `+0.000 ms` is now, the program's start.
    timeline::start_clock();
    let parsed = more_flags(ClientArgs::cli(program, about)).parse();
    let args = ClientArgs::from_args(&parsed);
    let crawl = crawler(&parsed);
    // `_server` keeps an in-process demo server alive until the summary is printed.
    let (_server, addr) = target(&args);
    let paths: Vec<String> = (1..=args.count).map(|n| format!("/{n}")).collect();
    let report = Report::default();

    if args.timeline.is_some() {
        timeline::start();
    }
    let start = Instant::now();
    let threads = crawl(addr, &paths, report.clone()).unwrap_or_else(|e| fail(e));
    let elapsed = start.elapsed();

    let stage = program.split('-').next().unwrap_or(program);
    if let Some(file) = &args.timeline {
        let server = match args.addr {
            Some(addr) => format!("from {addr}"),
            None => format!("demo server delay {} ms", args.delay.as_millis()),
        };
        let title = format!("{program}: {} requests, {server}, {:.3} s", paths.len(), elapsed.as_secs_f64());
        match timeline::write(file, &title, args.timeline_ms) {
            Ok(lanes) => {
                let plural = if lanes == 1 { "" } else { "s" };
                say(format_args!("timeline: {} ({lanes} request lane{plural})", file.display()))
            }
            Err(e) => fail(format!("cannot write the timeline to {}: {e}", file.display())),
        }
    }
    say(summary_line(stage, paths.len(), threads, elapsed));
    if report.failures() > 0 {
        std::process::exit(1);
    }
}

// ANCHOR: summary_line
/// The line every demo ends with, comparable across stages:
/// `"stage1: 10 requests, 1 thread, 1.024 s"`.
pub fn summary_line(stage: &str, requests: usize, threads: usize, elapsed: Duration) -> String {
    let requests_word = if requests == 1 { "request" } else { "requests" };
    let threads_word = if threads == 1 { "thread" } else { "threads" };
    format!("{stage}: {requests} {requests_word}, {threads} {threads_word}, {:.3} s", elapsed.as_secs_f64())
}
// ANCHOR_END: summary_line

// ANCHOR: say
/// Prints `line` on stdout, like `println!`, for the demos' output.
///
/// `println!` panics when the write fails, and it does fail when nobody reads stdout any more:
/// `cargo run -p stage2-select-callbacks | head -1` closes the pipe after one line, and the
/// next line meets `EPIPE` (Rust ignores `SIGPIPE`, which would otherwise have killed the
/// process quietly). The reader has what it wanted, so the demo ends quietly too, exit 0.
/// Any other failure (a full disk) is one `error:` line and exit 1.
pub fn say(line: impl fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        drop(out);
        fail(format!("writing to stdout: {e}"));
    }
}
// ANCHOR_END: say

/// Prints `error: {msg}` on one line to stderr and exits 1. An `anyhow::Error` is printed with
/// its whole chain of causes, joined with `": "`.
pub fn fail(msg: impl fmt::Display) -> ! {
    use std::io::Write;
    // `{:#}` is anyhow's "with causes" form; other types print as usual.
    let text = format!("{msg:#}");
    let one_line: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    // Not `eprintln!`: with stderr gone it would panic (exit 101) instead of exiting 1.
    let _ = writeln!(std::io::stderr(), "error: {}", one_line.join(" "));
    std::process::exit(1);
}

// ANCHOR: describe_bind_error
/// Turns a failed `bind` into one line a person can act on.
pub fn describe_bind_error(addr: SocketAddr, err: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::AddrInUse => format!(
            "{addr} is already in use (another program listens there; stop it or pick another port with --addr)"
        ),
        ErrorKind::AddrNotAvailable => {
            format!("cannot listen on {addr}: that address does not belong to this machine (try 127.0.0.1)")
        }
        ErrorKind::PermissionDenied => format!(
            "cannot listen on {addr}: permission denied (ports below 1024 need privileges; pick a higher port)"
        ),
        _ => format!("cannot listen on {addr}: {err}"),
    }
}
// ANCHOR_END: describe_bind_error

// ANCHOR: listen_from_args
/// The start of every echo server binary: a [`Cli`] with `--addr` (default `default_addr`),
/// parsed (`--help`: exit 0, bad flag or address: exit 2), and a listener bound there
/// ([`listen_or_exit`]: a port in use is one `error:` line, exit 1). Returns the listener and
/// the address it really got (port 0 picks a free one).
pub fn listen_from_args(
    program: &str,
    about: &str,
    default_addr: SocketAddr,
) -> (std::net::TcpListener, SocketAddr) {
    let help = format!("address to listen on (default {default_addr})");
    let args = Cli::new(program, about).option("--addr", "ADDR", &help).parse();
    let addr = args.value_or("--addr", default_addr);
    let listener = listen_or_exit(addr);
    let bound = listener.local_addr().unwrap_or(addr);
    (listener, bound)
}
// ANCHOR_END: listen_from_args

/// Binds a listener for a server binary, or exits 1 with [`describe_bind_error`]'s line.
pub fn listen_or_exit(addr: SocketAddr) -> std::net::TcpListener {
    match crate::net::bind_listener(addr) {
        Ok(listener) => listener,
        Err(e) => fail(describe_bind_error(addr, &e)),
    }
}

#[cfg(test)]
mod tests;
