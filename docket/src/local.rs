//! The local installation: a data folder with the SQLite store and the token secret, the first
//! admin, and the API served on a TCP port until Ctrl-C.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use docket_api::{AppState, Authenticator, TokenKeys, router_serving_blobs};
use docket_assign::AssignHandler;
use docket_domain::clock::SystemClock;
use docket_domain::model::{Contact, User};
use docket_domain::notify::MailSettings;
use docket_domain::schema::directory_keys;
use docket_domain::{Docket, Principal};
use docket_embedded::{FileBlobStore, OutboxMailer, SqliteItemStore, SqliteQueue};
use docket_mail::compose::Address;
use docket_notify::NotifyHandler;

use crate::console::{self, ConsoleState};
use crate::mail_in::PipelineSink;
use crate::worker::{self, WakingQueue};
use docket_embedded::SmtpConfig;
use rand::RngCore;

const DATABASE_FILE: &str = "docket.sqlite";
const SECRET_FILE: &str = "token-secret";
const BLOB_FOLDER: &str = "blobs";
const OUTBOX_FOLDER: &str = "outbox";
const NOTIFY_QUEUE: &str = "notify";
const ASSIGN_QUEUE: &str = "assign";
/// Deliveries of a queued message before it moves to the dead letters.
const MAX_RECEIVES: u32 = 5;
/// The address local notifications come from and replies go to.
const LOCAL_MAIL_ADDRESS: &str = "support@docket.localhost";
const FIRST_ADMIN_NAME: &str = "Administrator";
const FIRST_ADMIN_EMAIL: &str = "admin@docket.localhost";
/// Where links in local mail point unless `serve` says otherwise.
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

pub struct Installation {
    pub docket: Docket,
    pub keys: TokenKeys,
    pub notify_queue: Arc<WakingQueue>,
    pub assign_queue: Arc<WakingQueue>,
    pub outbox: std::path::PathBuf,
    /// The attachments, signing the URLs of large uploads and downloads when served.
    pub blobs: Arc<FileBlobStore>,
}

/// Opens (creating when absent) the data folder, the store and the token secret.
pub fn open(data: &Path) -> Result<Installation, String> {
    open_with(data, None)
}

/// Opens the installation as [`open`] does; with `blob_url`, its blob folder presigns requests
/// as URLs under it (to this server's `/blobs` routes), signed with a key derived from the
/// token secret.
fn open_with(data: &Path, blob_url: Option<&str>) -> Result<Installation, String> {
    std::fs::create_dir_all(data).map_err(|e| format!("cannot create data folder {}: {e}", data.display()))?;
    let store = SqliteItemStore::open(&data.join(DATABASE_FILE), docket_domain::schema::tables()).map_err(|e| format!("cannot open the database: {e}"))?;
    let secret = load_or_create_secret(&data.join(SECRET_FILE))?;
    let queue = |name: &str| -> Result<Arc<WakingQueue>, String> {
        let queue = SqliteQueue::open(&data.join(DATABASE_FILE), name, MAX_RECEIVES).map_err(|e| format!("cannot open the {name} queue: {e}"))?;
        Ok(Arc::new(WakingQueue::new(queue)))
    };
    let (notify_queue, assign_queue) = (queue(NOTIFY_QUEUE)?, queue(ASSIGN_QUEUE)?);
    let mut blobs = FileBlobStore::new(data.join(BLOB_FOLDER)).map_err(|e| format!("cannot open the blob folder: {e}"))?;
    if let Some(url) = blob_url {
        blobs = blobs.with_signed_urls(url, &secret).map_err(|e| format!("cannot sign blob URLs: {e}"))?;
    }
    let blobs = Arc::new(blobs);
    let docket = Docket::new(Arc::new(store), Arc::new(SystemClock))
        .with_case_number_block(CASE_NUMBER_BLOCK)
        .with_blobs(blobs.clone())
        .with_notify_queue(notify_queue.clone())
        .with_assign_queue(assign_queue.clone());
    Ok(Installation { docket, keys: TokenKeys::new(&secret), notify_queue, assign_queue, outbox: data.join(OUTBOX_FOLDER), blobs })
}

/// The base of the URLs clients reach a server listening on `address` at: `public_url` when
/// given, else `http://` and the address, a loopback one for a listener on every interface.
fn public_base_url(public_url: Option<&str>, address: SocketAddr) -> String {
    if let Some(url) = public_url {
        return url.trim().trim_end_matches('/').to_owned();
    }
    let mut address = address;
    if address.ip().is_unspecified() {
        let loopback: std::net::IpAddr = if address.is_ipv4() { std::net::Ipv4Addr::LOCALHOST.into() } else { std::net::Ipv6Addr::LOCALHOST.into() };
        address.set_ip(loopback);
    }
    format!("http://{address}")
}

/// What `docket serve` is told on its command line.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub smtp: SocketAddr,
    pub smtp_trusted_senders: bool,
    pub public_url: Option<String>,
}

fn load_or_create_secret(path: &Path) -> Result<Vec<u8>, String> {
    if let Ok(hex) = std::fs::read_to_string(path) {
        return decode_hex(hex.trim()).ok_or_else(|| format!("{} is not a hex secret", path.display()));
    }
    let mut secret = vec![0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    write_private(path, &hex).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(secret)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() < 32 || !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

/// Serves the API on `listen` until Ctrl-C. Links in mail (a web-form sender's confirmation)
/// and the URLs of large attachments point at `public_url`, by default the address served.
pub async fn serve(data: &Path, options: ServeOptions) -> Result<(), String> {
    let ServeOptions { listen, smtp, smtp_trusted_senders, public_url } = options;
    // Bound first: the blob URLs name the address actually bound (port 0 picks one).
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let base_url = public_base_url(public_url.as_deref(), address);
    let installation = open_with(data, Some(&base_url))?;
    let (admin, created) =
        installation.docket.ensure_admin(FIRST_ADMIN_NAME, FIRST_ADMIN_EMAIL).await.map_err(|e| format!("cannot prepare the first admin: {e}"))?;
    let smtp_listener = tokio::net::TcpListener::bind(smtp).await.map_err(|e| format!("cannot listen for SMTP on {smtp}: {e}"))?;
    let smtp_address = smtp_listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%address, %smtp_address, %base_url, data = %data.display(), admin = %admin.id, admin_created = created, "docket serving");
    let link = installation.docket.signin().issue_link(&admin.id).await.map_err(|e| format!("cannot make the sign-in link: {e}"))?;
    eprintln!(
        "Docket is serving {base_url}  (data in {data})\n\
         Sign in to the console as {name}: {base_url}{path}{link}\n\
         (works once, for {minutes} minutes; staff ask for a new link on the sign-in page, mailed to {data}/outbox)\n\
         Customer portal: {base_url}/portal/ (contacts with portal access sign in by a mailed link)\n\
         Inbound mail: SMTP on {smtp_address}; sent mail lands in {data}/outbox\n\
         {verb} admin: {name} <{email}> id {id}\n\
         API token:     docket --data {data} token\n\
         Then:          curl -H \"Authorization: Bearer $TOKEN\" {base_url}/cases\n\
         Stop with Ctrl-C.",
        path = docket_domain::signin::SIGNIN_PATH,
        minutes = docket_domain::signin::LINK_VALIDITY.whole_minutes(),
        data = data.display(),
        verb = if created { "Created" } else { "Existing" },
        name = admin.name,
        email = admin.email,
        id = admin.id,
    );
    let mailer: Arc<dyn docket_ports::Mailer> = Arc::new(OutboxMailer::new(installation.outbox.clone()).map_err(|e| format!("cannot open the outbox: {e}"))?);
    let settings = MailSettings { public_url: Some(base_url.clone()), ..local_mail_settings() };
    let console = console::router(ConsoleState { docket: installation.docket.clone(), mailer: mailer.clone(), mail: settings.clone() });
    let handler = Arc::new(NotifyHandler { docket: installation.docket.clone(), mailer: mailer.clone(), settings });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(worker::run(installation.notify_queue.clone(), handler, stopped.clone()));
    let assigner = Arc::new(AssignHandler { docket: installation.docket.clone() });
    let assign_worker = tokio::spawn(worker::run(installation.assign_queue.clone(), assigner, stopped.clone()));
    let relay = tokio::spawn(worker::relay(installation.docket.clone(), stopped.clone()));
    let sla_sweep = tokio::spawn(worker::sweep_sla(installation.docket.clone(), stopped.clone()));
    if smtp_trusted_senders {
        tracing::warn!("the SMTP listener believes the From address of its mail: staff addresses count as staff");
    }
    let sink = Arc::new(PipelineSink { docket: installation.docket.clone(), mailer, settings: local_mail_settings(), trusted_sender: smtp_trusted_senders });
    let smtp_server = tokio::spawn(docket_embedded::serve_smtp(smtp_listener, SmtpConfig::new("docket.localhost"), sink, stopped));
    let docket = installation.docket.clone();
    let state = AppState { docket: installation.docket, authenticator: Authenticator::LocalTokens(installation.keys) };
    // The API and the /blobs routes its presigned requests go to (S3 takes them on AWS). The peer
    // address is the client's: web-form rate limits count per client IP.
    let app = router_serving_blobs(state, installation.blobs, console);
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown_signal()).await;
    let _ = stop.send(true);
    let _ = worker.await;
    let _ = assign_worker.await;
    let _ = relay.await;
    let _ = sla_sweep.await;
    let _ = smtp_server.await;
    give_back_case_numbers(&docket).await;
    served.map_err(|e| format!("server failed: {e}"))?;
    tracing::info!("docket stopped");
    Ok(())
}

pub fn local_mail_settings() -> MailSettings {
    MailSettings {
        from: Address { name: Some("Docket Support".into()), email: LOCAL_MAIL_ADDRESS.into() },
        reply_to: LOCAL_MAIL_ADDRESS.into(),
        message_id_domain: "docket.localhost".into(),
        provider_message_id_domain: None,
        public_url: Some(DEFAULT_PUBLIC_URL.into()),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Finds a user or portal contact by id or email address.
async fn resolve(docket: &Docket, who: &str) -> Result<Principal, String> {
    let directory = docket.directory();
    let lookup = |e: docket_domain::DomainError| e.to_string();
    let id = if who.contains('@') {
        let address = who.trim().to_lowercase();
        match directory.owner_of(&directory_keys::user_email(&address)).await.map_err(lookup)? {
            Some(id) => id,
            None => directory.contact_by_email(&address).await.map_err(lookup)?.map(|c: Contact| c.id.to_string()).unwrap_or_default(),
        }
    } else {
        who.to_owned()
    };
    docket.principal(&id).await.map_err(|e| format!("no token for {who}: {e}"))
}

pub async fn print_token(data: &Path, who: Option<&str>, ttl: Duration) -> Result<(), String> {
    let installation = open(data)?;
    let principal = match who {
        Some(who) => resolve(&installation.docket, who).await?,
        None => {
            let (admin, _): (User, bool) =
                installation.docket.ensure_admin(FIRST_ADMIN_NAME, FIRST_ADMIN_EMAIL).await.map_err(|e| format!("cannot prepare the first admin: {e}"))?;
            Principal::Staff(admin)
        }
    };
    let token = installation.keys.mint(principal.id(), ttl).map_err(|e| format!("cannot sign the token: {e}"))?;
    println!("{token}");
    Ok(())
}

pub async fn ingest(data: &Path, path: &Path, options: &crate::mail_in::IngestOptions) -> Result<(), String> {
    let installation = open(data)?;
    let mailer = Arc::new(OutboxMailer::new(installation.outbox.clone()).map_err(|e| format!("cannot open the outbox: {e}"))?);
    let sink = PipelineSink { docket: installation.docket.clone(), mailer, settings: local_mail_settings(), trusted_sender: false };
    let ingested = crate::mail_in::ingest(&sink, path, options).await;
    give_back_case_numbers(&installation.docket).await;
    ingested
}

/// Case numbers the local process takes at a time (see `docket_domain::numbers`): new cases
/// then neither wait for a commit of the counter nor conflict over it.
pub(crate) const CASE_NUMBER_BLOCK: u64 = 32;

/// Returns the case numbers the process holds on an orderly stop, so the next start counts on
/// without a gap. A failure only leaves a gap: logged.
async fn give_back_case_numbers(docket: &Docket) {
    match docket.give_back_case_numbers().await {
        Ok(returned) => tracing::debug!(returned, "unused case numbers returned"),
        Err(error) => tracing::warn!(%error, "unused case numbers could not be returned: the next case numbers skip them"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_urls_name_an_address_clients_can_reach() {
        // GIVEN listen addresses and public URLs
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let any_v6: SocketAddr = "[::]:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();

        // WHEN the base URL of the blob routes is chosen
        // THEN a public URL wins (without its trailing slash), else the address actually bound,
        // on the loopback interface when listening on all
        assert_eq!(public_base_url(Some("https://help.example.com/ "), any), "https://help.example.com");
        assert_eq!(public_base_url(None, any), "http://127.0.0.1:8080");
        assert_eq!(public_base_url(None, any_v6), "http://[::1]:8080");
        assert_eq!(public_base_url(None, local), "http://127.0.0.1:4000");
    }
}
