//! The SMTP receiver over real TCP on 127.0.0.1, driven by a tiny raw client.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use docket_embedded::{Envelope, MAX_ERRORS_PER_SESSION, MailSink, SinkError, SmtpConfig, SmtpServer, serve_smtp};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// No single step of a test may take longer than this.
const STEP: Duration = Duration::from_secs(10);

/// What the recording sink answers.
#[derive(Clone)]
enum Answer {
    Accept,
    Fail(SinkError),
}

struct RecordingSink {
    answer: Mutex<Answer>,
    delivered: Mutex<Vec<Envelope>>,
}

impl RecordingSink {
    fn new(answer: Answer) -> Arc<Self> {
        Arc::new(RecordingSink { answer: Mutex::new(answer), delivered: Mutex::new(Vec::new()) })
    }

    fn delivered(&self) -> Vec<Envelope> {
        self.delivered.lock().expect("sink lock").clone()
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().expect("sink lock") = answer;
    }
}

#[async_trait]
impl MailSink for RecordingSink {
    async fn deliver(&self, envelope: Envelope) -> Result<(), SinkError> {
        let answer = self.answer.lock().expect("sink lock").clone();
        match answer {
            Answer::Accept => {
                self.delivered.lock().expect("sink lock").push(envelope);
                Ok(())
            }
            Answer::Fail(error) => Err(error),
        }
    }
}

struct Server {
    addr: SocketAddr,
    sink: Arc<RecordingSink>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

async fn start(config: SmtpConfig) -> Server {
    start_with(config, Answer::Accept).await
}

async fn start_with(config: SmtpConfig, answer: Answer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let sink = RecordingSink::new(answer);
    let (shutdown, watch) = watch::channel(false);
    let task = tokio::spawn(serve_smtp(listener, config, sink.clone(), watch));
    Server { addr, sink, shutdown, task }
}

fn config() -> SmtpConfig {
    SmtpConfig::new("mx.docket.test")
}

/// A raw SMTP client: sends bytes, reads one (possibly multi-line) reply at a time.
struct Client {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    /// Connects and checks the 220 greeting.
    async fn connect(addr: SocketAddr) -> Client {
        let stream = tokio::time::timeout(STEP, TcpStream::connect(addr)).await.expect("connect in time").expect("connect");
        let (read, writer) = stream.into_split();
        let mut client = Client { reader: BufReader::new(read), writer };
        let (code, text) = client.reply().await;
        assert_eq!(code, 220, "greeting: {text}");
        client
    }

    /// Connects and says EHLO.
    async fn ehlo(addr: SocketAddr) -> Client {
        let mut client = Client::connect(addr).await;
        assert_eq!(client.command("EHLO client.test").await, 250);
        client
    }

    async fn send(&mut self, bytes: &[u8]) {
        tokio::time::timeout(STEP, self.writer.write_all(bytes)).await.expect("write in time").expect("write");
    }

    /// Reads one reply: its code and all its lines.
    async fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(STEP, self.reader.read_line(&mut line)).await.expect("reply in time").expect("read reply");
            assert!(read > 0, "connection closed while waiting for a reply; so far {text:?}");
            assert!(line.ends_with("\r\n"), "reply line not CRLF-terminated: {line:?}");
            text.push_str(&line);
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok()).expect("reply code");
            match line.as_bytes().get(3) {
                Some(b'-') => continue,
                _ => return (code, text),
            }
        }
    }

    async fn code(&mut self) -> u16 {
        self.reply().await.0
    }

    /// Sends one command line and returns the reply code.
    async fn command(&mut self, line: &str) -> u16 {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.code().await
    }

    /// Waits for the server to close the connection (what it sent before is ignored).
    async fn closed(&mut self) {
        let mut rest = Vec::new();
        // Either an orderly close or a reset will do.
        let _ = tokio::time::timeout(STEP, self.reader.read_to_end(&mut rest)).await.expect("server closes in time");
    }

    /// A whole transaction; returns the reply to the end of data.
    async fn transaction(&mut self, from: &str, to: &[&str], data: &[u8]) -> u16 {
        assert_eq!(self.command(&format!("MAIL FROM:<{from}>")).await, 250);
        for rcpt in to {
            assert_eq!(self.command(&format!("RCPT TO:<{rcpt}>")).await, 250);
        }
        assert_eq!(self.command("DATA").await, 354);
        self.send(data).await;
        self.send(b".\r\n").await;
        self.code().await
    }
}

async fn wait_stopped(server: Server) {
    tokio::time::timeout(STEP, server.task).await.expect("server stops in time").expect("server task");
}

#[tokio::test]
async fn full_session_delivers_the_exact_bytes_to_every_recipient() {
    // GIVEN a server
    let server = start(config()).await;
    let mut client = Client::connect(server.addr).await;

    // WHEN a client delivers a message with two recipients and dot-stuffed lines
    let (code, ehlo) = {
        client.send(b"EHLO client.test\r\n").await;
        client.reply().await
    };
    assert_eq!(code, 250);
    assert_eq!(client.command("MAIL FROM:<sender@example.org>").await, 250);
    assert_eq!(client.command("RCPT TO:<first@docket.test>").await, 250);
    assert_eq!(client.command("RCPT TO:<second@docket.test>").await, 250);
    assert_eq!(client.command("DATA").await, 354);
    client.send(b"Subject: hi\r\n\r\n..leading dot\r\n..\r\n...three\r\nplain . line\r\n").await;
    client.send(b".\r\n").await;
    let accepted = client.code().await;
    assert_eq!(client.command("QUIT").await, 221);
    client.closed().await;

    // THEN EHLO advertised the extensions, and the sink got the message exactly, unstuffed
    for extension in ["SIZE 41943040", "8BITMIME", "PIPELINING", "SMTPUTF8", "ENHANCEDSTATUSCODES"] {
        assert!(ehlo.contains(&format!("250-{extension}\r\n")) || ehlo.contains(&format!("250 {extension}\r\n")), "{ehlo}");
    }
    assert_eq!(accepted, 250);
    let delivered = server.sink.delivered();
    assert_eq!(delivered.len(), 1);
    let envelope = &delivered[0];
    assert_eq!(envelope.mail_from, "sender@example.org");
    assert_eq!(envelope.rcpt_to, ["first@docket.test", "second@docket.test"]);
    assert_eq!(envelope.data, b"Subject: hi\r\n\r\n.leading dot\r\n.\r\n..three\r\nplain . line\r\n".to_vec());
    assert_eq!(envelope.peer.ip(), std::net::Ipv4Addr::LOCALHOST);
}

#[tokio::test]
async fn pipelined_commands_get_their_replies_in_order() {
    // GIVEN a client that said EHLO
    let server = start(config()).await;
    let mut client = Client::ehlo(server.addr).await;

    // WHEN it sends the envelope in one write, then the data and QUIT in another
    client.send(b"MAIL FROM:<a@example.org> BODY=8BITMIME\r\nRCPT TO:<b@docket.test>\r\nRCPT TO:<c@docket.test>\r\nDATA\r\n").await;
    let envelope_replies = [client.code().await, client.code().await, client.code().await, client.code().await];
    client.send(b"Subject: piped\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n").await;
    let end_replies = [client.code().await, client.code().await, client.code().await];
    client.closed().await;

    // THEN every command was answered in order and the message delivered
    assert_eq!(envelope_replies, [250, 250, 250, 354]);
    assert_eq!(end_replies, [250, 250, 221]);
    let delivered = server.sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].rcpt_to, ["b@docket.test", "c@docket.test"]);
    assert_eq!(delivered[0].data, b"Subject: piped\r\n\r\nbody\r\n".to_vec());
}

#[tokio::test]
async fn null_sender_is_accepted_as_an_empty_reverse_path() {
    // GIVEN a client that said HELO (not EHLO)
    let server = start(config()).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.command("HELO client.test").await, 250);

    // WHEN it delivers a bounce with the null sender
    let code = client.transaction("", &["bounces@docket.test"], b"Subject: bounce\r\n\r\nx\r\n").await;

    // THEN it is delivered with an empty mail_from
    assert_eq!(code, 250);
    let delivered = server.sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].mail_from, "");
}

#[tokio::test]
async fn declared_size_over_the_limit_is_refused_before_data() {
    // GIVEN a server accepting at most 1000 octets
    let server = start(SmtpConfig { max_message_bytes: 1000, ..config() }).await;
    let mut client = Client::ehlo(server.addr).await;

    // WHEN the client declares a bigger message, then a fitting one
    let too_big = client.command("MAIL FROM:<a@example.org> SIZE=1001").await;
    let huge = client.command("MAIL FROM:<a@example.org> SIZE=99999999999999999999999").await;
    let fitting = client.command("MAIL FROM:<a@example.org> SIZE=1000").await;

    // THEN the big ones get 552 and the session goes on
    assert_eq!((too_big, huge, fitting), (552, 552, 250));
}

#[tokio::test]
async fn message_over_the_limit_during_data_is_refused_and_the_session_goes_on() {
    // GIVEN a server accepting at most 1000 octets
    let server = start(SmtpConfig { max_message_bytes: 1000, ..config() }).await;
    let mut client = Client::ehlo(server.addr).await;

    // WHEN a client sends 5000 octets of data (in long and short lines) without declaring a size
    let mut big = Vec::new();
    big.extend_from_slice(&[b'x'; 3000]);
    big.extend_from_slice(b"\r\n");
    for _ in 0..40 {
        big.extend_from_slice(b"fifty octets of text, fifty octets of text, fifty\r\n");
    }
    let refused = client.transaction("a@example.org", &["b@docket.test"], &big).await;

    // THEN it gets 552 and nothing is delivered
    assert_eq!(refused, 552);
    assert!(server.sink.delivered().is_empty());

    // WHEN it resets and sends a small message
    assert_eq!(client.command("RSET").await, 250);
    let accepted = client.transaction("a@example.org", &["b@docket.test"], b"small\r\n").await;

    // THEN that one is delivered
    assert_eq!(accepted, 250);
    let delivered = server.sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].data, b"small\r\n".to_vec());
}

#[tokio::test]
async fn recipient_outside_the_accepted_domains_is_refused() {
    // GIVEN a server accepting mail for docket.test only
    let accept_domains = Some(vec!["docket.test".to_owned()]);
    let server = start(SmtpConfig { accept_domains, ..config() }).await;
    let mut client = Client::ehlo(server.addr).await;
    assert_eq!(client.command("MAIL FROM:<a@example.org>").await, 250);

    // WHEN the client names recipients inside and outside it
    let outside = client.command("RCPT TO:<someone@elsewhere.example>").await;
    let subdomain = client.command("RCPT TO:<someone@sub.docket.test>").await;
    let inside = client.command("RCPT TO:<help@Docket.TEST>").await;
    let postmaster = client.command("RCPT TO:<Postmaster>").await;

    // THEN only the accepted domain (any case) and the bare postmaster pass
    assert_eq!((outside, subdomain, inside, postmaster), (550, 550, 250, 250));
    assert_eq!(client.command("DATA").await, 354);
    client.send(b"x\r\n.\r\n").await;
    assert_eq!(client.code().await, 250);
    assert_eq!(server.sink.delivered()[0].rcpt_to, ["help@Docket.TEST", "Postmaster"]);
}

#[tokio::test]
async fn recipients_over_the_maximum_get_452() {
    // GIVEN a server taking at most 2 recipients per message
    let server = start(SmtpConfig { max_recipients: 2, ..config() }).await;
    let mut client = Client::ehlo(server.addr).await;
    assert_eq!(client.command("MAIL FROM:<a@example.org>").await, 250);

    // WHEN the client names three
    let codes = [
        client.command("RCPT TO:<one@docket.test>").await,
        client.command("RCPT TO:<two@docket.test>").await,
        client.command("RCPT TO:<three@docket.test>").await,
    ];

    // THEN the third is refused temporarily, and the message goes to the first two
    assert_eq!(codes, [250, 250, 452]);
    assert_eq!(client.command("DATA").await, 354);
    client.send(b"x\r\n.\r\n").await;
    assert_eq!(client.code().await, 250);
    assert_eq!(server.sink.delivered()[0].rcpt_to, ["one@docket.test", "two@docket.test"]);
}

#[tokio::test]
async fn commands_out_of_sequence_get_503() {
    // GIVEN a fresh session
    let server = start(config()).await;
    let mut client = Client::connect(server.addr).await;

    // WHEN commands come out of order
    let mail_before_ehlo = client.command("MAIL FROM:<a@example.org>").await;
    assert_eq!(client.command("EHLO client.test").await, 250);
    let rcpt_before_mail = client.command("RCPT TO:<b@docket.test>").await;
    let data_before_mail = client.command("DATA").await;
    assert_eq!(client.command("MAIL FROM:<a@example.org>").await, 250);
    let nested_mail = client.command("MAIL FROM:<a@example.org>").await;
    let data_before_rcpt = client.command("DATA").await;

    // THEN each gets 503, and the transaction is still usable
    assert_eq!([mail_before_ehlo, rcpt_before_mail, data_before_mail, nested_mail, data_before_rcpt], [503; 5]);
    assert_eq!(client.command("RCPT TO:<b@docket.test>").await, 250);
    assert_eq!(client.command("DATA").await, 354);
}

#[tokio::test]
async fn sink_failures_answer_451_or_554() {
    // GIVEN a sink failing temporarily
    let server = start_with(config(), Answer::Fail(SinkError::Temporary("store busy".into()))).await;
    let mut client = Client::ehlo(server.addr).await;

    // WHEN a message is sent
    let temporary = client.transaction("a@example.org", &["b@docket.test"], b"x\r\n").await;

    // THEN the client is told to retry
    assert_eq!(temporary, 451);

    // WHEN the sink now fails permanently, and the message is sent again on the same session
    server.sink.answer(Answer::Fail(SinkError::Permanent("no such case\r\n250 fake".into())));
    assert_eq!(client.command("MAIL FROM:<a@example.org>").await, 250);
    assert_eq!(client.command("RCPT TO:<b@docket.test>").await, 250);
    assert_eq!(client.command("DATA").await, 354);
    client.send(b"x\r\n.\r\n").await;
    let (permanent, text) = client.reply().await;

    // THEN the client is told to give up, on one reply line, and the session goes on
    assert_eq!(permanent, 554);
    assert_eq!(text.matches("\r\n").count(), 1, "{text:?}");
    assert_eq!(client.command("NOOP").await, 250);
    assert!(server.sink.delivered().is_empty());
}

#[tokio::test]
async fn a_10_kb_command_line_gets_500_and_the_server_survives() {
    // GIVEN a session
    let server = start(config()).await;
    let mut client = Client::ehlo(server.addr).await;

    // WHEN the client sends a 10 KB command line
    let long = format!("MAIL FROM:<{}@example.org>\r\n", "a".repeat(10 * 1024));
    client.send(long.as_bytes()).await;
    let code = client.code().await;

    // THEN it gets 500, and both this session and new ones still work
    assert_eq!(code, 500);
    assert_eq!(client.command("NOOP").await, 250);
    let mut other = Client::ehlo(server.addr).await;
    assert_eq!(other.transaction("a@example.org", &["b@docket.test"], b"x\r\n").await, 250);
}

#[tokio::test]
async fn garbage_gets_500s_then_421_and_never_crashes_the_server() {
    // GIVEN a session
    let server = start(config()).await;
    let mut client = Client::connect(server.addr).await;

    // WHEN the client sends invalid UTF-8, control bytes and unknown commands
    let garbage: [&[u8]; 4] = [b"\xff\xfe\xfd\r\n", b"EHLO \x00\x01\x02\r\n", b"\xc3\x28 MAIL\r\n", b"FROB nicate\r\n"];
    let mut codes = Vec::new();
    for line in garbage {
        client.send(line).await;
        codes.push(client.code().await);
    }

    // THEN each gets 500 and the session goes on
    assert_eq!(codes, [500; 4]);
    assert_eq!(client.command("NOOP").await, 250);

    // WHEN it keeps making mistakes up to the limit
    for _ in codes.len()..MAX_ERRORS_PER_SESSION - 1 {
        assert_eq!(client.command("\u{7f}").await, 500);
    }
    client.send(b"WHAT\r\n").await;
    let last = client.code().await;
    let closing = client.code().await;

    // THEN the last mistake is answered, then the session is closed with 421
    assert_eq!((last, closing), (500, 421));
    client.closed().await;

    // AND the server still serves new sessions
    let mut other = Client::ehlo(server.addr).await;
    assert_eq!(other.command("NOOP").await, 250);
}

#[tokio::test]
async fn syntax_errors_and_informational_commands() {
    // GIVEN a session
    let server = start(config()).await;
    let mut client = Client::connect(server.addr).await;

    // WHEN the client uses the informational commands and malformed arguments
    let codes = [
        client.command("EHLO").await,
        client.command("ehlo client.test").await,
        client.command("VRFY someone").await,
        client.command("HELP").await,
        client.command("EXPN list").await,
        client.command("MAIL FROM:a@example.org").await,
        client.command("MAIL FROM:<a@@example.org>").await,
        client.command("MAIL FROM:<a@example.org> FROB=1").await,
        client.command("MAIL FROM: <a@example.org> SIZE=12").await,
        client.command("RCPT TO:<not an address>").await,
        client.command("RCPT TO:<b@docket.test> NOTIFY=NEVER").await,
        client.command("RCPT TO:<>").await,
        client.command("RCPT TO:<ü@docket.test>").await,
    ];

    // THEN each gets its proper reply
    assert_eq!(codes, [501, 250, 252, 214, 502, 501, 501, 555, 250, 501, 555, 501, 553]);
}

#[tokio::test]
async fn utf8_addresses_pass_with_smtputf8() {
    // GIVEN a session
    let server = start(config()).await;
    let mut client = Client::ehlo(server.addr).await;

    // WHEN a message with internationalized addresses is sent with SMTPUTF8
    assert_eq!(client.command("MAIL FROM:<pelé@exämple.org> SMTPUTF8").await, 250);
    assert_eq!(client.command("RCPT TO:<支援@docket.test>").await, 250);
    assert_eq!(client.command("DATA").await, 354);
    client.send("Subject: ünïcödé\r\n\r\n8bit body é\r\n.\r\n".as_bytes()).await;

    // THEN it is delivered unchanged
    assert_eq!(client.code().await, 250);
    let delivered = server.sink.delivered();
    assert_eq!(delivered[0].mail_from, "pelé@exämple.org");
    assert_eq!(delivered[0].rcpt_to, ["支援@docket.test"]);
    assert_eq!(delivered[0].data, "Subject: ünïcödé\r\n\r\n8bit body é\r\n".as_bytes());
}

#[tokio::test]
async fn bare_lf_line_endings_are_tolerated() {
    // GIVEN a session speaking with bare LF line endings
    let server = start(config()).await;
    let mut client = Client::connect(server.addr).await;
    client.send(b"EHLO client.test\nMAIL FROM:<a@example.org>\nRCPT TO:<b@docket.test>\nDATA\n").await;
    let codes = [client.code().await, client.code().await, client.code().await, client.code().await];

    // WHEN it sends data with LF endings and a ".\n" terminator
    client.send(b"Subject: lf\n\n..dot\nend\n.\nQUIT\n").await;
    let end = [client.code().await, client.code().await];

    // THEN everything is understood and the data kept as sent, unstuffed
    assert_eq!(codes, [250, 250, 250, 354]);
    assert_eq!(end, [250, 221]);
    assert_eq!(server.sink.delivered()[0].data, b"Subject: lf\n\n.dot\nend\n".to_vec());
}

#[tokio::test]
async fn connection_lost_during_data_delivers_nothing() {
    // GIVEN a client in the middle of DATA
    let server = start(config()).await;
    let mut client = Client::ehlo(server.addr).await;
    assert_eq!(client.command("MAIL FROM:<a@example.org>").await, 250);
    assert_eq!(client.command("RCPT TO:<b@docket.test>").await, 250);
    assert_eq!(client.command("DATA").await, 354);
    client.send(b"Subject: cut\r\n\r\nhalf a mess").await;

    // WHEN it disconnects
    drop(client);

    // THEN nothing is delivered and the server goes on
    let mut other = Client::ehlo(server.addr).await;
    assert_eq!(other.command("NOOP").await, 250);
    assert!(server.sink.delivered().is_empty());
}

#[tokio::test]
async fn idle_session_gets_421_and_is_closed() {
    // GIVEN a server with a short idle timeout
    let idle_timeout = Duration::from_millis(300);
    let server = start(SmtpConfig { idle_timeout, ..config() }).await;
    let mut client = Client::ehlo(server.addr).await;

    // WHEN the client says nothing more
    let started = std::time::Instant::now();
    let (code, text) = client.reply().await;

    // THEN it gets 421 after the timeout, and the connection is closed
    assert_eq!(code, 421, "{text}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    client.closed().await;

    // AND a client going quiet in the middle of DATA is closed the same way
    let mut client = Client::ehlo(server.addr).await;
    assert_eq!(client.command("MAIL FROM:<a@example.org>").await, 250);
    assert_eq!(client.command("RCPT TO:<b@docket.test>").await, 250);
    assert_eq!(client.command("DATA").await, 354);
    client.send(b"partial\r\n").await;
    assert_eq!(client.code().await, 421);
    client.closed().await;
    assert!(server.sink.delivered().is_empty());
}

#[tokio::test]
async fn shutdown_closes_idle_sessions_and_the_listener() {
    // GIVEN a server with an idle session
    let server = start(config()).await;
    let mut client = Client::ehlo(server.addr).await;

    // WHEN shutdown is signalled
    server.shutdown.send(true).expect("signal shutdown");

    // THEN the idle session gets 421 and is closed, the server stops, new connections are refused
    assert_eq!(client.code().await, 421);
    client.closed().await;
    let addr = server.addr;
    wait_stopped(server).await;
    assert!(TcpStream::connect(addr).await.is_err(), "listener still open");
}

#[tokio::test]
async fn smtp_server_handle_serves_like_serve_smtp() {
    // GIVEN an SmtpServer value serving a listener
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let sink = RecordingSink::new(Answer::Accept);
    let (shutdown, watch) = watch::channel(false);
    let server = SmtpServer::new(config(), sink.clone());
    let task = tokio::spawn(server.serve(listener, watch));

    // WHEN a message is delivered and the server is shut down
    let mut client = Client::ehlo(addr).await;
    assert_eq!(client.transaction("a@example.org", &["b@docket.test"], b"x\r\n").await, 250);
    assert_eq!(client.command("QUIT").await, 221);
    shutdown.send(true).expect("signal shutdown");

    // THEN the sink has it and the server stops
    tokio::time::timeout(STEP, task).await.expect("stops in time").expect("server task");
    assert_eq!(sink.delivered().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_sessions_each_deliver_one_message() {
    // GIVEN a server
    let server = start(config()).await;
    let addr = server.addr;

    // WHEN 20 clients deliver one message each at the same time
    let clients: Vec<_> = (0..20)
        .map(|n| {
            tokio::spawn(async move {
                let mut client = Client::ehlo(addr).await;
                let data = format!("Subject: message {n}\r\n\r\nbody {n}\r\n");
                let code = client.transaction(&format!("sender{n}@example.org"), &[&format!("to{n}@docket.test")], data.as_bytes()).await;
                assert_eq!(client.command("QUIT").await, 221);
                code
            })
        })
        .collect();
    let mut codes = Vec::new();
    for client in clients {
        codes.push(client.await.expect("client task"));
    }

    // THEN all 20 are accepted and delivered, each intact
    assert_eq!(codes, [250; 20]);
    let mut delivered = server.sink.delivered();
    assert_eq!(delivered.len(), 20);
    delivered.sort_by_key(|e| e.mail_from.trim_start_matches("sender").split('@').next().and_then(|n| n.parse::<u32>().ok()));
    for (n, envelope) in delivered.iter().enumerate() {
        assert_eq!(envelope.mail_from, format!("sender{n}@example.org"));
        assert_eq!(envelope.rcpt_to, [format!("to{n}@docket.test")]);
        assert_eq!(envelope.data, format!("Subject: message {n}\r\n\r\nbody {n}\r\n").into_bytes());
    }
}
