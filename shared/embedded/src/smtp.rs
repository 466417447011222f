//! An SMTP receiver for local inbound mail: the local `docket` process's stand-in for SES inbound.
//!
//! A local MTA or mail client hands messages over as it would to SES's inbound endpoint (RFC 5321,
//! server side, with the `SIZE`, `8BITMIME`, `PIPELINING`, `SMTPUTF8` and `ENHANCEDSTATUSCODES`
//! extensions); each accepted message goes to a [`MailSink`] with its [`Envelope`]. There is no AUTH
//! and no STARTTLS: the receiver is meant for a loopback address, which the caller chooses when it
//! binds the listener.
//!
//! The receiver never trusts its client: command lines are bounded (longer ones are discarded as
//! they stream in, then refused), message data is bounded by [`SmtpConfig::max_message_bytes`]
//! while it is read, every read and write is bounded by [`SmtpConfig::idle_timeout`], and a session
//! making too many mistakes is closed. Logs carry the peer, the outcome and sizes, never addresses
//! or message content.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tracing::Instrument;

/// Default for [`SmtpConfig::max_message_bytes`]: 40 MiB, SES's limit for inbound mail.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 40 * 1024 * 1024;
/// Default for [`SmtpConfig::max_recipients`].
pub const DEFAULT_MAX_RECIPIENTS: usize = 100;
/// Default for [`SmtpConfig::idle_timeout`]: 5 minutes (RFC 5321 §4.5.3.2.7 asks for at least 5).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The longest command line accepted, in octets including its line ending.
pub const MAX_COMMAND_LINE: usize = 1000;
/// Client mistakes (syntax errors, commands out of sequence, over-long lines) tolerated in one
/// session; the next one closes it with 421.
pub const MAX_ERRORS_PER_SESSION: usize = 10;
/// Sessions served at once; a connection beyond this is answered 421 and closed.
pub const MAX_SESSIONS: usize = 512;
/// How long [`serve_smtp`] waits, after shutdown, for sessions still busy (receiving or delivering
/// a message) before aborting them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Message data is read in pieces of at most this many octets (a line may be longer: the size
/// limit applies to the whole message, not to lines).
const DATA_CHUNK: usize = 64 * 1024;
/// Longest local part and domain of an address (RFC 5321 §4.5.3.1).
const MAX_LOCAL_PART: usize = 64;
const MAX_DOMAIN: usize = 255;
/// Longest sink error reason echoed to the client.
const MAX_REASON_IN_REPLY: usize = 200;

/// Receives each message the SMTP server accepted.
#[async_trait]
pub trait MailSink: Send + Sync {
    /// Called once per accepted message, after the final "." of DATA; `Err(reason)` answers 451
    /// (temporary) or 554 (permanent) per the error's kind, and the client keeps the message.
    async fn deliver(&self, envelope: Envelope) -> Result<(), SinkError>;
}

/// One message as handed over by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path, as written between `<` and `>` (source route dropped); `""` for the null
    /// reverse-path `<>` of bounces.
    pub mail_from: String,
    /// The accepted forward-paths, in the order given, duplicates dropped. Besides `local@domain`
    /// addresses this may hold the bare `postmaster` RFC 5321 requires servers to accept.
    pub rcpt_to: Vec<String>,
    /// The message exactly as received: dot-unstuffed, line endings as sent (CRLF; a bare LF
    /// stays a bare LF), ending with the line ending of its last line.
    pub data: Vec<u8>,
    /// The client's address.
    pub peer: SocketAddr,
}

/// Why a [`MailSink`] refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The client should try again later: answered 451.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// The client should give up (and bounce): answered 554.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Settings of the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The name the server greets with (control characters and spaces are dropped).
    pub hostname: String,
    /// Largest message accepted, in octets after dot-unstuffing; advertised as `SIZE`.
    pub max_message_bytes: usize,
    /// Most recipients in one transaction; more are answered 452.
    pub max_recipients: usize,
    /// When set, a recipient whose domain is not one of these (ASCII case-insensitive) is
    /// answered 550. The bare `postmaster` is always accepted.
    pub accept_domains: Option<Vec<String>>,
    /// How long a read or a write may wait for the client before the session is closed (421).
    pub idle_timeout: Duration,
}

impl SmtpConfig {
    /// The defaults, greeting as `hostname`.
    pub fn new(hostname: impl Into<String>) -> Self {
        SmtpConfig { hostname: hostname.into(), ..SmtpConfig::default() }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            hostname: "localhost".to_owned(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            accept_domains: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// An SMTP server: its settings and where accepted messages go. [`SmtpServer::serve`] is
/// [`serve_smtp`].
#[derive(Clone)]
pub struct SmtpServer {
    config: SmtpConfig,
    sink: Arc<dyn MailSink>,
}

impl fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpServer").field("config", &self.config).finish_non_exhaustive()
    }
}

impl SmtpServer {
    pub fn new(config: SmtpConfig, sink: Arc<dyn MailSink>) -> Self {
        SmtpServer { config, sink }
    }

    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    /// Serves `listener` until `shutdown` turns true; see [`serve_smtp`].
    pub async fn serve(self, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        serve_smtp(listener, self.config, self.sink, shutdown).await;
    }
}

/// Accepts SMTP sessions on `listener`, each in its own task, handing every accepted message to
/// `sink`, until `shutdown` turns true (or its sender is dropped).
///
/// On shutdown the listener is closed at once (new connections are refused), sessions waiting for
/// a command are answered 421 and closed, and sessions busy receiving or delivering a message get
/// [`SHUTDOWN_GRACE`] to finish it before they are aborted; the function returns when all are gone.
pub async fn serve_smtp(listener: TcpListener, config: SmtpConfig, sink: Arc<dyn MailSink>, mut shutdown: watch::Receiver<bool>) {
    let config = Arc::new(SmtpConfig { hostname: sanitize_hostname(&config.hostname), ..config });
    let local = listener.local_addr().ok();
    tracing::info!(?local, hostname = %config.hostname, "SMTP server accepting");
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown_signalled(&mut shutdown) => break,
            Some(ended) = sessions.join_next(), if !sessions.is_empty() => log_session_end(ended),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if sessions.len() >= MAX_SESSIONS {
                        tracing::warn!(%peer, "too many SMTP sessions, connection refused");
                        // Best effort and never blocking: the client may not be reading.
                        let _ = stream.try_write(b"421 4.3.2 Too many connections, try again later\r\n");
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let (read, write) = stream.into_split();
                    let session = Session::new(
                        read,
                        write,
                        peer,
                        Arc::clone(&config),
                        Arc::clone(&sink),
                        shutdown.clone(),
                    );
                    let span = tracing::info_span!("smtp_session", %peer);
                    sessions.spawn(session.run().instrument(span));
                }
                Err(error) => {
                    // Typically out of file descriptors: let some sessions end before retrying.
                    tracing::warn!(%error, "SMTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    tracing::info!(?local, sessions = sessions.len(), "SMTP server stopped accepting");
    let drain = async {
        while let Some(ended) = sessions.join_next().await {
            log_session_end(ended);
        }
    };
    if timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(sessions = sessions.len(), "aborting SMTP sessions still busy after the grace period");
        sessions.abort_all();
        while sessions.join_next().await.is_some() {}
    }
    tracing::info!(?local, "SMTP server stopped");
}

/// Completes once shutdown is asked for: the flag is true, or its sender is gone.
async fn shutdown_signalled(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn log_session_end(ended: Result<(), tokio::task::JoinError>) {
    if let Err(error) = ended
        && error.is_panic()
    {
        tracing::error!(%error, "SMTP session panicked");
    }
}

fn sanitize_hostname(hostname: &str) -> String {
    let clean: String = hostname.chars().filter(|c| !c.is_control() && !c.is_whitespace()).collect();
    if clean.is_empty() { "localhost".to_owned() } else { clean }
}

/// Why a session stops reading.
#[derive(Debug)]
enum Stop {
    /// The client closed the connection.
    Eof,
    /// Nothing came within the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
    /// The connection failed.
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(error: io::Error) -> Self {
        Stop::Io(error)
    }
}

/// What a bounded read produced.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    /// A whole line, ending with `\n`.
    Line,
    /// The limit was reached before a line ending; the rest of the line is still unread.
    Partial,
}

/// What to do after a command.
enum Next {
    Continue,
    Close,
}

/// The mail transaction in progress (after MAIL).
struct Transaction {
    mail_from: String,
    rcpt_to: Vec<String>,
    smtputf8: bool,
}

struct Session<R, W> {
    reader: BufReader<R>,
    writer: BufWriter<W>,
    peer: SocketAddr,
    config: Arc<SmtpConfig>,
    sink: Arc<dyn MailSink>,
    shutdown: watch::Receiver<bool>,
    greeted: bool,
    transaction: Option<Transaction>,
    errors: usize,
    delivered: usize,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Session<R, W> {
    fn new(read: R, write: W, peer: SocketAddr, config: Arc<SmtpConfig>, sink: Arc<dyn MailSink>, shutdown: watch::Receiver<bool>) -> Self {
        Session {
            reader: BufReader::new(read),
            writer: BufWriter::new(write),
            peer,
            config,
            sink,
            shutdown,
            greeted: false,
            transaction: None,
            errors: 0,
            delivered: 0,
        }
    }

    async fn run(mut self) {
        tracing::debug!("SMTP session opened");
        let outcome = self.converse().await;
        let _ = timeout(self.config.idle_timeout, async {
            self.writer.flush().await?;
            self.writer.shutdown().await
        })
        .await;
        match outcome {
            Ok(reason) => {
                tracing::debug!(outcome = reason, delivered = self.delivered, "SMTP session closed");
            }
            Err(Stop::Io(error)) => {
                tracing::debug!(%error, delivered = self.delivered, "SMTP session failed");
            }
            Err(stop) => {
                tracing::debug!(outcome = ?stop, delivered = self.delivered, "SMTP session closed");
            }
        }
    }

    /// The conversation; `Ok` names how it ended when the server ended it.
    async fn converse(&mut self) -> Result<&'static str, Stop> {
        let greeting = format!("{} ESMTP Docket ready", self.config.hostname);
        self.reply(220, &greeting).await?;
        let mut line = Vec::with_capacity(128);
        loop {
            line.clear();
            match self.read_bounded(&mut line, MAX_COMMAND_LINE, true).await {
                Ok(Read::Line) => {}
                Ok(Read::Partial) => {
                    if let Err(stop) = self.discard_rest_of_line(&mut line).await {
                        return Err(self.closing(stop).await);
                    }
                    if let Next::Close = self.error(500, "5.5.2 Line too long").await? {
                        return Ok("too many errors");
                    }
                    continue;
                }
                Err(stop) => return Err(self.closing(stop).await),
            }
            match self.command(&line).await {
                Ok(Next::Continue) => {}
                Ok(Next::Close) => return Ok("closed by server"),
                Err(stop) => return Err(self.closing(stop).await),
            }
        }
    }

    /// Tells the client why the session ends, when it is still there to hear it.
    async fn closing(&mut self, stop: Stop) -> Stop {
        let (status, text) = match stop {
            Stop::Idle => ("4.4.2", "Idle timeout, closing connection"),
            Stop::Shutdown => ("4.3.2", "Service shutting down, closing connection"),
            Stop::Eof | Stop::Io(_) => return stop,
        };
        let text = format!("{status} {} {text}", self.config.hostname);
        // Best effort: the write is bounded by the idle timeout, and the session ends anyway.
        let _ = self.reply(421, &text).await;
        stop
    }

    /// Reads into `out` until a line ending (included) or until `out` holds `max` octets.
    ///
    /// Pending replies are flushed before any read that might wait, so pipelined commands get
    /// their replies in one write and a client waiting for a reply always gets it. `interruptible`
    /// reads (waiting for a command) end early on shutdown.
    async fn read_bounded(&mut self, out: &mut Vec<u8>, max: usize, interruptible: bool) -> Result<Read, Stop> {
        loop {
            if self.reader.buffer().is_empty() {
                self.flush().await?;
                let idle = self.config.idle_timeout;
                let filled = if interruptible {
                    tokio::select! {
                        biased;
                        filled = timeout(idle, self.reader.fill_buf()) => filled.map(|r| r.map(|b| b.len())),
                        () = shutdown_signalled(&mut self.shutdown) => return Err(Stop::Shutdown),
                    }
                } else {
                    timeout(idle, self.reader.fill_buf()).await.map(|r| r.map(|b| b.len()))
                };
                match filled {
                    Err(_elapsed) => return Err(Stop::Idle),
                    Ok(Err(error)) => return Err(Stop::Io(error)),
                    Ok(Ok(0)) => return Err(Stop::Eof),
                    Ok(Ok(_)) => {}
                }
            }
            let available = self.reader.buffer();
            let room = max.saturating_sub(out.len());
            let window = &available[..available.len().min(room)];
            if let Some(end) = window.iter().position(|&b| b == b'\n') {
                out.extend_from_slice(&window[..=end]);
                self.reader.consume(end + 1);
                return Ok(Read::Line);
            }
            let taken = window.len();
            out.extend_from_slice(window);
            self.reader.consume(taken);
            if out.len() >= max {
                return Ok(Read::Partial);
            }
        }
    }

    /// Reads and drops the rest of an over-long line, in bounded pieces.
    async fn discard_rest_of_line(&mut self, scratch: &mut Vec<u8>) -> Result<(), Stop> {
        loop {
            scratch.clear();
            if self.read_bounded(scratch, MAX_COMMAND_LINE, false).await? == Read::Line {
                scratch.clear();
                return Ok(());
            }
        }
    }

    async fn flush(&mut self) -> Result<(), Stop> {
        if self.writer.buffer().is_empty() {
            return Ok(());
        }
        match timeout(self.config.idle_timeout, self.writer.flush()).await {
            Ok(result) => Ok(result?),
            Err(_elapsed) => Err(Stop::Idle),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        match timeout(self.config.idle_timeout, self.writer.write_all(bytes)).await {
            Ok(result) => Ok(result?),
            Err(_elapsed) => Err(Stop::Idle),
        }
    }

    async fn reply(&mut self, code: u16, text: &str) -> Result<(), Stop> {
        self.write(format!("{code} {text}\r\n").as_bytes()).await
    }

    async fn reply_lines(&mut self, code: u16, lines: &[&str]) -> Result<(), Stop> {
        let mut reply = String::new();
        for (index, text) in lines.iter().enumerate() {
            let separator = if index + 1 == lines.len() { ' ' } else { '-' };
            reply.push_str(&format!("{code}{separator}{text}\r\n"));
        }
        self.write(reply.as_bytes()).await
    }

    /// Answers a client mistake, closing the session when it made too many.
    async fn error(&mut self, code: u16, text: &str) -> Result<Next, Stop> {
        self.reply(code, text).await?;
        self.errors += 1;
        if self.errors >= MAX_ERRORS_PER_SESSION {
            tracing::info!(errors = self.errors, "SMTP session closed after too many errors");
            let text = format!("4.7.0 {} Too many errors, closing connection", self.config.hostname);
            self.reply(421, &text).await?;
            return Ok(Next::Close);
        }
        Ok(Next::Continue)
    }

    async fn command(&mut self, raw: &[u8]) -> Result<Next, Stop> {
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(line) = std::str::from_utf8(raw) else {
            return self.error(500, "5.5.2 Syntax error, invalid characters").await;
        };
        if line.chars().any(|c| c.is_control()) {
            return self.error(500, "5.5.2 Syntax error, invalid characters").await;
        }
        let (verb, args) = match line.split_once(' ') {
            Some((verb, args)) => (verb, args),
            None => (line, ""),
        };
        let is = |name: &str| verb.eq_ignore_ascii_case(name);
        if is("EHLO") || is("HELO") {
            self.hello(is("EHLO"), args).await
        } else if is("MAIL") {
            self.mail(args).await
        } else if is("RCPT") {
            self.rcpt(args).await
        } else if is("DATA") {
            self.data(args).await
        } else if is("RSET") {
            if !args.trim().is_empty() {
                return self.error(501, "5.5.4 Syntax: RSET").await;
            }
            self.transaction = None;
            self.reply(250, "2.0.0 OK").await.map(|()| Next::Continue)
        } else if is("NOOP") {
            self.reply(250, "2.0.0 OK").await.map(|()| Next::Continue)
        } else if is("QUIT") {
            let text = format!("2.0.0 {} closing connection", self.config.hostname);
            self.reply(221, &text).await?;
            Ok(Next::Close)
        } else if is("VRFY") {
            if args.trim().is_empty() {
                return self.error(501, "5.5.4 Syntax: VRFY <address>").await;
            }
            self.reply(252, "2.5.0 Cannot VRFY user, but will accept message and attempt delivery").await.map(|()| Next::Continue)
        } else if is("HELP") {
            self.reply(214, "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT").await.map(|()| Next::Continue)
        } else if is("EXPN") || is("STARTTLS") || is("AUTH") || is("BDAT") || is("TURN") || is("ETRN") {
            self.error(502, "5.5.1 Command not implemented").await
        } else {
            self.error(500, "5.5.2 Command not recognized").await
        }
    }

    async fn hello(&mut self, extended: bool, args: &str) -> Result<Next, Stop> {
        let client = args.trim();
        if client.is_empty() {
            let text = if extended { "5.5.4 Syntax: EHLO <domain>" } else { "5.5.4 Syntax: HELO <domain>" };
            return self.error(501, text).await;
        }
        // EHLO/HELO also aborts any transaction in progress (RFC 5321 §4.1.4).
        self.transaction = None;
        self.greeted = true;
        let host = &self.config.hostname;
        if extended {
            let first = format!("{host} greets you");
            let size = format!("SIZE {}", self.config.max_message_bytes);
            let lines = [first.as_str(), size.as_str(), "8BITMIME", "PIPELINING", "SMTPUTF8", "ENHANCEDSTATUSCODES", "HELP"];
            self.reply_lines(250, &lines).await?;
        } else {
            let text = format!("{host} greets you");
            self.reply(250, &text).await?;
        }
        Ok(Next::Continue)
    }

    async fn mail(&mut self, args: &str) -> Result<Next, Stop> {
        if !self.greeted {
            return self.error(503, "5.5.1 Send EHLO or HELO first").await;
        }
        if self.transaction.is_some() {
            return self.error(503, "5.5.1 Nested MAIL command").await;
        }
        let Some(path) = strip_prefix_ignore_case(args, "FROM:") else {
            return self.error(501, "5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        let (address, params) = match parse_path(path) {
            Ok(Path::Null(params)) => (String::new(), params),
            Ok(Path::Mailbox(mailbox, params)) if mailbox.domain.is_some() => (mailbox.address, params),
            Ok(Path::Mailbox(..)) | Err(_) => {
                return self.error(501, "5.1.7 Bad sender address syntax").await;
            }
        };
        let mut size = None;
        let mut body = false;
        let mut smtputf8 = false;
        for param in params.split(' ').filter(|p| !p.is_empty()) {
            let (key, value) = match param.split_once('=') {
                Some((key, value)) => (key, Some(value)),
                None => (param, None),
            };
            if key.eq_ignore_ascii_case("SIZE") {
                let parsed = match value {
                    Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                        // Too many digits for a u64 is still a size, and a too big one.
                        digits.parse::<u64>().unwrap_or(u64::MAX)
                    }
                    _ => return self.error(501, "5.5.4 Syntax: SIZE=<octets>").await,
                };
                if size.replace(parsed).is_some() {
                    return self.error(501, "5.5.4 Duplicate SIZE parameter").await;
                }
            } else if key.eq_ignore_ascii_case("BODY") {
                let known = value.is_some_and(|v| v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME"));
                if !known {
                    return self.error(501, "5.5.4 Syntax: BODY=7BIT or BODY=8BITMIME").await;
                }
                if std::mem::replace(&mut body, true) {
                    return self.error(501, "5.5.4 Duplicate BODY parameter").await;
                }
            } else if key.eq_ignore_ascii_case("SMTPUTF8") {
                if value.is_some() || std::mem::replace(&mut smtputf8, true) {
                    return self.error(501, "5.5.4 Syntax: SMTPUTF8").await;
                }
            } else {
                return self.error(555, "5.5.4 MAIL FROM parameter not recognized").await;
            }
        }
        if size.is_some_and(|size| size > self.config.max_message_bytes as u64) {
            tracing::info!(size, "SMTP message refused: declared size over the limit");
            let text = format!("5.3.4 Message size exceeds fixed maximum message size ({} octets)", self.config.max_message_bytes);
            self.reply(552, &text).await?;
            return Ok(Next::Continue);
        }
        if !smtputf8 && !address.is_ascii() {
            return self.error(553, "5.6.7 Non-ASCII address needs the SMTPUTF8 parameter").await;
        }
        self.transaction = Some(Transaction { mail_from: address, rcpt_to: Vec::new(), smtputf8 });
        self.reply(250, "2.1.0 Sender OK").await.map(|()| Next::Continue)
    }

    async fn rcpt(&mut self, args: &str) -> Result<Next, Stop> {
        let Some(transaction) = &self.transaction else {
            return self.error(503, "5.5.1 Send MAIL first").await;
        };
        let smtputf8 = transaction.smtputf8;
        let recipients = transaction.rcpt_to.len();
        let Some(path) = strip_prefix_ignore_case(args, "TO:") else {
            return self.error(501, "5.5.4 Syntax: RCPT TO:<address>").await;
        };
        let (mailbox, params) = match parse_path(path) {
            Ok(Path::Mailbox(mailbox, params)) => (mailbox, params),
            Ok(Path::Null(_)) | Err(_) => {
                return self.error(501, "5.1.3 Bad recipient address syntax").await;
            }
        };
        if !params.trim().is_empty() {
            return self.error(555, "5.5.4 RCPT TO parameters not recognized").await;
        }
        if !smtputf8 && !mailbox.address.is_ascii() {
            return self.error(553, "5.6.7 Non-ASCII address needs the SMTPUTF8 parameter").await;
        }
        // A mailbox without a domain is the bare postmaster (RFC 5321 §4.5.1), always accepted.
        if let (Some(domain), Some(accepted)) = (&mailbox.domain, &self.config.accept_domains) {
            let domain = domain.to_lowercase();
            let known = accepted.iter().any(|accepted| accepted.trim().trim_end_matches('.').to_lowercase() == domain);
            if !known {
                tracing::info!("SMTP recipient refused: domain not accepted");
                self.reply(550, "5.7.1 Relaying denied: recipient domain not accepted here").await?;
                return Ok(Next::Continue);
            }
        }
        if recipients >= self.config.max_recipients {
            self.reply(452, "4.5.3 Too many recipients").await?;
            return Ok(Next::Continue);
        }
        if let Some(transaction) = &mut self.transaction
            && !transaction.rcpt_to.contains(&mailbox.address)
        {
            transaction.rcpt_to.push(mailbox.address);
        }
        self.reply(250, "2.1.5 Recipient OK").await.map(|()| Next::Continue)
    }

    async fn data(&mut self, args: &str) -> Result<Next, Stop> {
        if !args.trim().is_empty() {
            return self.error(501, "5.5.4 Syntax: DATA").await;
        }
        let Some(transaction) = &self.transaction else {
            return self.error(503, "5.5.1 Send MAIL first").await;
        };
        if transaction.rcpt_to.is_empty() {
            return self.error(503, "5.5.1 Send RCPT first (no valid recipients)").await;
        }
        self.reply(354, "Start mail input; end with <CRLF>.<CRLF>").await?;
        let max = self.config.max_message_bytes;
        let mut data = Vec::new();
        let mut received = 0usize;
        let mut overflow = false;
        let mut at_line_start = true;
        let mut chunk = Vec::with_capacity(8 * 1024);
        loop {
            chunk.clear();
            let read = self.read_bounded(&mut chunk, DATA_CHUNK, false).await?;
            let is_line = read == Read::Line;
            if at_line_start && is_line && (chunk == b".\r\n" || chunk == b".\n") {
                break;
            }
            let piece = match chunk.split_first() {
                Some((b'.', rest)) if at_line_start => rest,
                _ => &chunk[..],
            };
            received = received.saturating_add(piece.len());
            if !overflow {
                if data.len() + piece.len() > max {
                    overflow = true;
                    data = Vec::new();
                } else {
                    data.extend_from_slice(piece);
                }
            }
            at_line_start = is_line;
        }
        // Whatever the outcome, the transaction is over.
        let Some(transaction) = self.transaction.take() else {
            return Ok(Next::Continue);
        };
        if overflow {
            tracing::info!(size = received, max, "SMTP message refused: over the size limit");
            let text = format!("5.3.4 Message size exceeds fixed maximum message size ({max} octets)");
            self.reply(552, &text).await?;
            return Ok(Next::Continue);
        }
        let recipients = transaction.rcpt_to.len();
        let envelope = Envelope { mail_from: transaction.mail_from, rcpt_to: transaction.rcpt_to, data, peer: self.peer };
        match self.sink.deliver(envelope).await {
            Ok(()) => {
                self.delivered += 1;
                tracing::info!(size = received, recipients, "SMTP message accepted");
                self.reply(250, "2.0.0 OK message accepted").await?;
            }
            Err(SinkError::Temporary(reason)) => {
                tracing::warn!(size = received, recipients, %reason, "SMTP message deferred by the sink");
                let text = format!("4.3.0 Message not accepted, try again later: {}", reply_safe(&reason));
                self.reply(451, &text).await?;
            }
            Err(SinkError::Permanent(reason)) => {
                tracing::warn!(size = received, recipients, %reason, "SMTP message rejected by the sink");
                let text = format!("5.3.0 Message rejected: {}", reply_safe(&reason));
                self.reply(554, &text).await?;
            }
        }
        Ok(Next::Continue)
    }
}

/// Keeps a reason fit for one reply line: printable, bounded.
fn reply_safe(reason: &str) -> String {
    let clean: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_REASON_IN_REPLY).collect();
    let clean = clean.trim();
    if clean.is_empty() { "no reason given".to_owned() } else { clean.to_owned() }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// A parsed mailbox: the address as written, and its domain (`None` only for the bare
/// `postmaster`).
#[derive(Debug, PartialEq, Eq)]
struct Mailbox {
    address: String,
    domain: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Path<'a> {
    /// `<>`, followed by the parameters.
    Null(&'a str),
    Mailbox(Mailbox, &'a str),
}

#[derive(Debug, PartialEq, Eq)]
struct BadPath;

/// Parses `<path> [parameters]` (a space after the colon is tolerated, as most servers do).
fn parse_path(text: &str) -> Result<Path<'_>, BadPath> {
    let text = text.trim_start_matches(' ');
    let inner_and_rest = text.strip_prefix('<').ok_or(BadPath)?;
    // Find the closing '>' outside any quoted local part.
    let mut quoted = false;
    let mut escaped = false;
    let mut close = None;
    for (index, c) in inner_and_rest.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == '>' && !quoted {
            close = Some(index);
            break;
        }
    }
    let close = close.ok_or(BadPath)?;
    let inner = &inner_and_rest[..close];
    let rest = &inner_and_rest[close + 1..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(BadPath);
    }
    if inner.is_empty() {
        return Ok(Path::Null(rest));
    }
    // An obsolete source route ("@a,@b:user@host") is accepted and ignored (RFC 5321 §4.1.2).
    let mailbox = if inner.starts_with('@') {
        let (route, mailbox) = inner.split_once(':').ok_or(BadPath)?;
        for hop in route.split(',') {
            let domain = hop.strip_prefix('@').ok_or(BadPath)?;
            if !valid_domain(domain) {
                return Err(BadPath);
            }
        }
        mailbox
    } else {
        inner
    };
    Ok(Path::Mailbox(parse_mailbox(mailbox)?, rest))
}

fn parse_mailbox(text: &str) -> Result<Mailbox, BadPath> {
    if text.eq_ignore_ascii_case("postmaster") {
        return Ok(Mailbox { address: text.to_owned(), domain: None });
    }
    let local_end = if text.starts_with('"') { quoted_string_end(text).ok_or(BadPath)? } else { text.find('@').ok_or(BadPath)? };
    let local = &text[..local_end];
    let domain = text[local_end..].strip_prefix('@').ok_or(BadPath)?;
    let local_ok = if local.starts_with('"') { true } else { valid_dot_string(local) };
    if !local_ok || local.len() > MAX_LOCAL_PART || !valid_domain(domain) {
        return Err(BadPath);
    }
    Ok(Mailbox { address: text.to_owned(), domain: Some(domain.to_owned()) })
}

/// The byte offset just past the closing quote of the quoted string `text` starts with, when it
/// is well formed (printable ASCII or non-ASCII, with `\` escaping one printable character).
fn quoted_string_end(text: &str) -> Option<usize> {
    let mut chars = text.char_indices().skip(1);
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Some(index + 1),
            '\\' => match chars.next() {
                Some((_, escaped)) if (' '..='~').contains(&escaped) => {}
                _ => return None,
            },
            c if (' '..='~').contains(&c) || !c.is_ascii() && !c.is_control() => {}
            _ => return None,
        }
    }
    None
}

/// atext (RFC 5322) plus non-ASCII (RFC 6531).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || (!c.is_ascii() && !c.is_control())
}

fn valid_dot_string(text: &str) -> bool {
    !text.is_empty() && text.split('.').all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

fn valid_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > MAX_DOMAIN {
        return false;
    }
    if let Some(literal) = domain.strip_prefix('[') {
        let Some(literal) = literal.strip_suffix(']') else {
            return false;
        };
        return match strip_prefix_ignore_case(literal, "IPv6:") {
            Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
            None => literal.parse::<Ipv4Addr>().is_ok(),
        };
    }
    domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && !c.is_control()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(text: &str) -> Result<Mailbox, BadPath> {
        parse_mailbox(text)
    }

    #[test]
    fn parses_paths_and_parameters() {
        assert_eq!(parse_path("<>"), Ok(Path::Null("")));
        assert_eq!(parse_path("<> SIZE=10"), Ok(Path::Null(" SIZE=10")));
        assert_eq!(
            parse_path(" <a@b.example> BODY=8BITMIME"),
            Ok(Path::Mailbox(Mailbox { address: "a@b.example".into(), domain: Some("b.example".into()) }, " BODY=8BITMIME"))
        );
        assert_eq!(
            parse_path("<@relay.example,@other.example:a@b.example>"),
            Ok(Path::Mailbox(Mailbox { address: "a@b.example".into(), domain: Some("b.example".into()) }, ""))
        );
        assert_eq!(parse_path("a@b.example"), Err(BadPath));
        assert_eq!(parse_path("<a@b.example"), Err(BadPath));
        assert_eq!(parse_path("<a@b.example>x"), Err(BadPath));
    }

    #[test]
    fn validates_mailboxes() {
        assert!(mailbox("first.last+tag@sub.example.com").is_ok());
        assert!(mailbox("\"with space > and @\"@example.com").is_ok());
        assert!(mailbox("user@[127.0.0.1]").is_ok());
        assert!(mailbox("user@[IPv6:::1]").is_ok());
        assert!(mailbox("用户@例子.广告").is_ok());
        assert!(mailbox("Postmaster").is_ok_and(|m| m.domain.is_none()));
        for bad in [
            "",
            "user",
            "@example.com",
            "user@",
            "us er@example.com",
            ".user@example.com",
            "us..er@example.com",
            "user@-example.com",
            "user@exa_mple.com",
            "user@example..com",
            "user@[300.0.0.1]",
            "\"unterminated@example.com",
            "a@b@example.com",
        ] {
            assert!(mailbox(bad).is_err(), "{bad:?} should be refused");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(mailbox(&long_local).is_err());
    }

    #[test]
    fn sink_errors_say_which_failure_they_are() {
        assert_eq!(SinkError::Temporary("store busy".into()).to_string(), "temporary failure: store busy");
        assert_eq!(SinkError::Permanent("no such case".into()).to_string(), "permanent failure: no such case");
    }

    #[test]
    fn never_panics_on_odd_text() {
        for text in ["<\"", "<\"\\", "<@", "<@:", "<@a,:b@c>", "<\u{0}@a>", "<é", "FROM", "<\"é\\é\"@a>"] {
            let _ = parse_path(text);
        }
        assert_eq!(strip_prefix_ignore_case("é", "FROM:"), None);
        assert_eq!(strip_prefix_ignore_case("from:<>", "FROM:"), Some("<>"));
    }
}
