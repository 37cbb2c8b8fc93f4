//! An SMTP sink a test starts on a loopback port: it speaks just enough SMTP to take every
//! message it is given, and keeps each one (envelope and raw data) for the test to read. It
//! refuses the recipients a test names (550 at RCPT), as a server that bounces them would.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A message the sink took: the envelope's sender and recipients, and the data as sent.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    /// A top-level header's value (unfolded), by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = entity(&self.data);
        headers
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The body as text: quoted-printable and base64 decoded, the parts of a multipart
    /// message joined.
    pub fn text(&self) -> String {
        decoded(&self.data)
    }

    /// The content of the attached file `name` (its `Content-Disposition` filename), decoded,
    /// byte for byte; `None` when there is none.
    pub fn attachment(&self, name: &str) -> Option<Vec<u8>> {
        attachment(&self.data, name)
    }
}

/// A server on `backend` that sends its email to a sink started first.
pub async fn app_with_sink(backend: crate::Backend) -> (crate::TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = crate::TestApp::spawn_with(backend, |a| a.smtp_url = Some(url.into())).await;
    (app, sink)
}

/// A running sink.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    /// Recipients refused with 550 (lowercase).
    refused: Arc<Mutex<HashSet<String>>>,
}

impl SmtpSink {
    /// Listens on a free loopback port and takes messages until the test ends.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().expect("addr").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(HashSet::new()));
        let (kept, refusing) = (mails.clone(), refused.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (kept, refusing) = (kept.clone(), refusing.clone());
                tokio::spawn(async move {
                    let _ = session(stream, kept, refusing).await;
                });
            }
        });
        SmtpSink {
            port,
            mails,
            refused,
        }
    }

    /// Refuses `address` from now on: `550` at `RCPT TO`, a permanent failure (a bounce).
    pub fn refuse(&self, address: &str) {
        self.refused
            .lock()
            .unwrap()
            .insert(address.to_ascii_lowercase());
    }

    /// `smtp://127.0.0.1:<port>`, for `ConfigArgs::smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages taken so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits until at least `count` messages came (10 s at most), and answers them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP sink got {} message(s), not {count}: {mails:#?}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One SMTP conversation: greeting, commands, and messages until QUIT or the peer leaves.
async fn session(
    stream: TcpStream,
    mails: Arc<Mutex<Vec<Mail>>>,
    refused: Arc<Mutex<HashSet<String>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 rapport-test-sink ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-rapport-test-sink\r\n250 8BITMIME\r\n",
            "HELO" => b"250 rapport-test-sink\r\n",
            "MAIL" => {
                from = address(&command);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                let rcpt = address(&command);
                if refused.lock().unwrap().contains(&rcpt.to_ascii_lowercase()) {
                    b"550 5.1.1 No such mailbox\r\n"
                } else {
                    to.push(rcpt);
                    b"250 OK\r\n"
                }
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut read).await?;
                mails.lock().unwrap().push(Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 OK: queued\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The data of a message, up to the line holding a single dot, with dot-stuffing undone.
async fn read_data(read: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<String> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(String::from_utf8_lossy(&data).into_owned());
        }
        let unstuffed = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(unstuffed);
    }
}

/// The address of `MAIL FROM:<a@b> ...` or `RCPT TO:<a@b>`.
fn address(command: &str) -> String {
    match (command.find('<'), command.find('>')) {
        (Some(start), Some(end)) if start < end => command[start + 1..end].to_owned(),
        _ => command
            .split_once(':')
            .map_or("", |(_, rest)| rest.trim())
            .to_owned(),
    }
}

/// The unfolded headers (names as sent) and the body of a MIME entity.
fn entity(raw: &str) -> (Vec<(String, String)>, &str) {
    let raw = raw.strip_prefix("\r\n").unwrap_or(raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .unwrap_or((raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

/// The text of a MIME entity: its body decoded, or its parts' texts joined.
fn decoded(raw: &str) -> String {
    let (headers, body) = entity(raw);
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(String::new(), |(_, v)| v.clone())
    };
    let content_type = get("content-type");
    if content_type.to_ascii_lowercase().starts_with("multipart/")
        && let Some(boundary) = parameter(&content_type, "boundary")
    {
        let delimiter = format!("--{boundary}");
        return body
            .split(delimiter.as_str())
            .skip(1)
            .take_while(|part| !part.starts_with("--"))
            .map(decoded)
            .collect::<Vec<_>>()
            .join("\n");
    }
    match get("content-transfer-encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "base64" => {
            let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(clean)
                .unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_owned(),
    }
}

/// The decoded content of the part of `raw` (at any depth) attached as `name`.
fn attachment(raw: &str, name: &str) -> Option<Vec<u8>> {
    let (headers, body) = entity(raw);
    let get = |wanted: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(wanted))
            .map_or(String::new(), |(_, v)| v.clone())
    };
    let content_type = get("content-type");
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        let boundary = parameter(&content_type, "boundary")?;
        let delimiter = format!("--{boundary}");
        return body
            .split(delimiter.as_str())
            .skip(1)
            .take_while(|part| !part.starts_with("--"))
            .find_map(|part| attachment(part, name));
    }
    if parameter(&get("content-disposition"), "filename").as_deref() != Some(name) {
        return None;
    }
    match get("content-transfer-encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "base64" => {
            let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD.decode(clean).ok()
        }
        "quoted-printable" => Some(quoted_printable(body).into_bytes()),
        _ => Some(body.as_bytes().to_vec()),
    }
}

/// A parameter of a header value such as `multipart/alternative; boundary="abc"`.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (n, v) = p.split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Quoted-printable decoded: soft line breaks removed, `=XX` made bytes.
fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_bodies_are_decoded() {
        let mail = Mail {
            from: String::new(),
            to: Vec::new(),
            data: "Subject: Hi\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                   http://a.test/v1/public/sur=\r\nveys/abc =E4=BD=A0\r\n"
                .to_owned(),
        };
        assert_eq!(mail.header("subject").as_deref(), Some("Hi"));
        assert!(
            mail.text()
                .contains("http://a.test/v1/public/surveys/abc 你")
        );
    }

    #[test]
    fn multipart_parts_are_decoded() {
        let data = "Content-Type: multipart/alternative;\r\n boundary=\"b1\"\r\n\r\n\
                    --b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n\
                    aGVsbG8gd29ybGQ=\r\n--b1--\r\n";
        let mail = Mail {
            from: String::new(),
            to: Vec::new(),
            data: data.to_owned(),
        };
        assert!(mail.text().contains("hello world"), "{}", mail.text());
    }
}
