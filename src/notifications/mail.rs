//! Notifications as e-mails, sent through SMTP with `lettre`.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{SmtpSettings, SmtpTls};

pub type Mailer = AsyncSmtpTransport<Tokio1Executor>;

/// The transport the settings describe (it connects on first use).
pub fn mailer(s: &SmtpSettings) -> anyhow::Result<Mailer> {
    let builder = match s.tls {
        SmtpTls::None => Mailer::builder_dangerous(&s.host),
        SmtpTls::StartTls => Mailer::starttls_relay(&s.host)?,
        SmtpTls::Tls => Mailer::relay(&s.host)?,
    };
    let mut builder = builder.port(s.port).timeout(Some(Duration::from_secs(30)));
    if let (Some(user), Some(password)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// The e-mail of a notification: its Vietnamese title as the subject (encoded as RFC
/// 2047 says), its body as a plain-text part and the same in a simple HTML part.
pub fn message(from: &str, to: &str, title: &str, body: &str) -> Result<Message, String> {
    let from: Mailbox = from.parse().map_err(|e| format!("sender: {e}"))?;
    let to: Mailbox = to.parse().map_err(|e| format!("recipient {to:?}: {e}"))?;
    let text = format!(
        "{body}\n\n--\nHệ thống báo cáo bình đẳng giới (gereport). Bạn có thể tắt thư thông báo trong phần cài đặt của mình."
    );
    let html = format!(
        "<p>{}</p><hr><p><small>Hệ thống báo cáo bình đẳng giới (gereport).</small></p>",
        escape(body).replace('\n', "<br>")
    );
    Message::builder()
        .from(from)
        .to(to)
        .subject(title)
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| e.to_string())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Sends one message; the error in a sentence.
pub async fn send(mailer: &Mailer, m: Message) -> Result<(), String> {
    mailer.send(m).await.map(|_| ()).map_err(|e| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    })
}
