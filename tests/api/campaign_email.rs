//! Email campaigns: sending through an SMTP sink the test starts, one message per member whose
//! contact holds marketing consent and has an address (read at send time), never twice; the
//! tracked link, the open pixel and the unsubscribe link, counted and honoured; bounces; and
//! the refusals of `POST /v1/campaigns/{id}/send`.
//!
//! Campaigns and their members are set up below the API (the store), the campaign routes
//! being another branch's; everything under test goes through HTTP.

use std::time::{Duration as StdDuration, Instant};

use rapport_domain::campaign::{
    BodyTemplate, Campaign, CampaignStatus, CampaignType, Member, SubjectTemplate,
};
use rapport_domain::clock::Clock;
use rapport_domain::job::{Job, JobKind};
use rapport_domain::name::Title;
use rapport_store::repos::{campaigns, jobs};
use rapport_tests::smtp::{Mail, SmtpSink};
use rapport_tests::{Backend, TestApp, backend_tests};
use serde_json::{Value, json};
use uuid::Uuid;

const BODY: &str = "Hello {{contact.first_name}} {{ contact.last_name }} of {{customer.name}},\n\
                    our spring offers: https://shop.example/spring?x=1&y=2 and http://blog.example/post.\n\
                    Leave the list: {{unsubscribe_url}}";

/// Tests that need the SMTP sink started before the server, on both databases.
macro_rules! mail_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use rapport_tests::Backend;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::with_sink(Backend::Sqlite, super::$name).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::with_sink(Backend::Postgres, super::$name).await;
                }
            }
        )*
    };
}

mail_tests!(
    a_campaign_reaches_consenting_members_once_and_counts_what_they_do,
    a_refused_recipient_is_a_bounce
);

backend_tests!(sending_is_refused_when_it_cannot_be_done);

async fn with_sink<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp, SmtpSink) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_with(backend, |a| {
        a.smtp_url = Some(url.into());
        a.campaign_rate = Some(6000);
    })
    .await;
    test(app, sink).await;
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// A customer named `name` with one contact (`contact` added to a first name), answering the
/// customer's and the contact's ids.
async fn customer_with_contact(
    app: &TestApp,
    token: &str,
    name: &str,
    contact: Value,
) -> (Uuid, Uuid) {
    let mut body = json!({"first_name": "Lei", "last_name": "Li"});
    body.as_object_mut()
        .unwrap()
        .extend(contact.as_object().unwrap().clone());
    let reply = app
        .post(
            "/v1/customers?allow_duplicate=true",
            token,
            json!({"name": name, "contacts": [body]}),
        )
        .await;
    reply.assert_status(201);
    (
        id_of(&reply.body).parse().unwrap(),
        id_of(&reply.body["contacts"][0]).parse().unwrap(),
    )
}

fn consenting(first_name: &str, email: Option<&str>) -> Value {
    let mut c = json!({
        "first_name": first_name,
        "marketing_consent": {"granted": true, "source": "web_form"},
    });
    if let Some(address) = email {
        c["emails"] = json!([{"address": address, "label": "work"}]);
    }
    c
}

/// A campaign of `kind` stored as it is, with members for `(customer, contact)`.
async fn campaign(
    app: &TestApp,
    kind: CampaignType,
    subject: Option<&str>,
    body: Option<&str>,
    members: &[(Uuid, Uuid)],
) -> Uuid {
    let now = app.clock.now();
    let c = Campaign {
        id: Uuid::now_v7(),
        name: Title::parse("Spring mailing").unwrap(),
        kind,
        channel: None,
        content: None,
        starts_at: None,
        ends_at: None,
        budget: None,
        owner_id: None,
        status: CampaignStatus::Planned,
        email_subject: subject.map(|s| SubjectTemplate::parse(s).unwrap()),
        email_body: body.map(|b| BodyTemplate::parse(b).unwrap()),
        created_by: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let store = app.store().await;
    let tx = store.begin().await.unwrap();
    campaigns::insert(&tx, &c).await.unwrap();
    for (customer, contact) in members {
        let m = Member::new(c.id, *customer, *contact, now);
        assert!(campaigns::add_member(&tx, &m).await.unwrap());
    }
    rapport_store::commit(tx).await.unwrap();
    store.close().await.unwrap();
    c.id
}

async fn list(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let reply = app.get(path, token).await;
    reply.assert_status(200);
    reply.body["data"].as_array().unwrap().clone()
}

/// Waits until there are at least `count` jobs of `kind`, all succeeded (10 s at most).
async fn jobs_done(app: &TestApp, token: &str, kind: &str, count: usize) -> Vec<Value> {
    let path = format!("/v1/jobs?kind={kind}&limit=200");
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let jobs = list(app, token, &path).await;
        if jobs.len() >= count && jobs.iter().all(|j| j["status"] == "succeeded") {
            return jobs;
        }
        assert!(
            Instant::now() < deadline,
            "{kind}: not {count} succeeded jobs: {jobs:#?}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// Enqueues a job of `kind` with `payload`, due now, without a key: the same work run again.
async fn run_again(app: &TestApp, kind: &str, payload: Value) {
    let now = app.clock.now();
    let job = Job::new(JobKind::parse(kind).unwrap(), payload, None, now, now);
    let store = app.store().await;
    let tx = store.begin().await.unwrap();
    jobs::enqueue(&tx, &job).await.unwrap();
    rapport_store::commit(tx).await.unwrap();
    store.close().await.unwrap();
}

/// The token of the public links in a message.
pub fn token_in(mail: &Mail) -> String {
    let text = mail.text();
    let start = text
        .find("/v1/public/email/")
        .unwrap_or_else(|| panic!("no public link in {text}"))
        + "/v1/public/email/".len();
    text[start..start + 43].to_owned()
}

/// The first absolute link in `text` that contains `part`.
fn link_in(text: &str, part: &str) -> String {
    let at = text
        .find(part)
        .unwrap_or_else(|| panic!("no {part} in {text}"));
    let start = text[..at].rfind("http").unwrap();
    let end = text[at..]
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .map_or(text.len(), |e| at + e);
    text[start..end].to_owned()
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn stats(app: &TestApp, token: &str, campaign: Uuid) -> Value {
    let reply = app
        .get(&format!("/v1/campaigns/{campaign}/email-stats"), token)
        .await;
    reply.assert_status(200);
    reply.body
}

async fn member_messages(app: &TestApp, token: &str, campaign: Uuid) -> Vec<Value> {
    list(
        app,
        token,
        &format!("/v1/campaigns/{campaign}/messages?limit=200"),
    )
    .await
}

fn message_of(messages: &[Value], contact: Uuid) -> Value {
    messages
        .iter()
        .find(|m| m["contact_id"] == contact.to_string())
        .unwrap_or_else(|| panic!("no member for {contact} in {messages:#?}"))
        .clone()
}

async fn a_campaign_reaches_consenting_members_once_and_counts_what_they_do(
    app: TestApp,
    sink: SmtpSink,
) {
    let admin = app.admin_token().await;
    let marketer = app.user("marketing", None).await;
    let marketer = app.token_of(&marketer).await;
    let li = customer_with_contact(
        &app,
        &admin,
        "Li & Sons",
        consenting("<b>Li</b>", Some("li@li.example")),
    )
    .await;
    let wang = customer_with_contact(
        &app,
        &admin,
        "Wang Trading",
        consenting("Wang", Some("wang@wang.example")),
    )
    .await;
    let no_consent = customer_with_contact(
        &app,
        &admin,
        "Quiet Co",
        json!({"first_name": "Zhao", "emails": [{"address": "zhao@quiet.example", "label": "work"}],
               "marketing_consent": {"granted": false, "source": "email"}}),
    )
    .await;
    let no_address = customer_with_contact(&app, &admin, "Paper Co", consenting("Sun", None)).await;
    let withdrawn = customer_with_contact(
        &app,
        &admin,
        "Changed Mind Ltd",
        consenting("Zhou", Some("zhou@changed.example")),
    )
    .await;
    let id = campaign(
        &app,
        CampaignType::Email,
        Some("Spring news for {{contact.first_name}}"),
        Some(BODY),
        &[li, wang, no_consent, no_address, withdrawn],
    )
    .await;
    // Consent withdrawn after the member was added: read again when the campaign is sent.
    app.patch(
        &format!("/v1/contacts/{}", withdrawn.1),
        &admin,
        json!({"marketing_consent": {"granted": false, "source": "phone"}}),
    )
    .await
    .assert_status(200);

    let sent = app
        .post(&format!("/v1/campaigns/{id}/send"), &marketer, json!({}))
        .await;
    sent.assert_status(202);
    assert_eq!(sent.body["status"], "active", "a planned campaign starts");
    assert_eq!(sent.header("etag"), Some("\"2\""));
    let moved = app.audit_events(&id.to_string()).await;
    assert!(
        moved
            .iter()
            .any(|e| e["action"] == "update" && e["changes"]["status"]["after"] == "active"),
        "{moved:#?}"
    );

    jobs_done(&app, &admin, "campaigns.send", 1).await;
    let emails = jobs_done(&app, &admin, "campaigns.email", 2).await;
    assert_eq!(
        emails.len(),
        2,
        "one job per consenting member with an address"
    );
    let mails = sink.wait_for(2).await;
    let mut to: Vec<&str> = mails.iter().map(|m| m.to[0].as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["li@li.example", "wang@wang.example"]);

    // The same work again sends nothing twice.
    run_again(&app, "campaigns.send", json!({"campaign_id": id})).await;
    let message_ids: Vec<Value> = emails.iter().map(|j| j["payload"].clone()).collect();
    for payload in &message_ids {
        run_again(&app, "campaigns.email", payload.clone()).await;
    }
    jobs_done(&app, &admin, "campaigns.send", 2).await;
    jobs_done(&app, &admin, "campaigns.email", 4).await;
    assert_eq!(sink.mails().len(), 2, "{:#?}", sink.mails());

    let mail = mails
        .iter()
        .find(|m| m.to == ["li@li.example"])
        .unwrap()
        .clone();
    let token = token_in(&mail);
    let text = mail.text();
    // Merge values: plain in the text part, escaped in the HTML part.
    assert!(text.contains("Hello <b>Li</b> Li of Li & Sons,"), "{text}");
    assert!(
        text.contains("Hello &lt;b&gt;Li&lt;/b&gt; Li of Li &amp; Sons,"),
        "{text}"
    );
    assert!(
        mail.header("subject")
            .is_some_and(|s| s.contains("Spring news for")),
        "{:?}",
        mail.header("subject")
    );
    let unsubscribe = format!("/v1/public/email/{token}/unsubscribe");
    let list_unsubscribe = mail.header("list-unsubscribe").unwrap();
    assert!(
        list_unsubscribe.starts_with("<http")
            && list_unsubscribe.ends_with(&format!("{unsubscribe}>")),
        "{list_unsubscribe}"
    );
    assert_eq!(
        mail.header("list-unsubscribe-post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    // The links go through the tracker; the original addresses are not in the text part.
    assert!(
        !text.contains("https://shop.example/spring?x=1&y=2 "),
        "{text}"
    );
    assert!(text.contains(&format!("/v1/public/email/{token}/open.gif")));

    // The tracked link from the mail redirects to the original, and counts.
    let client = no_redirects();
    let click = link_in(&text, &format!("/v1/public/email/{token}/click/0"));
    let path = &click[click.find("/v1/").unwrap()..];
    let reply = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(reply.status(), 302);
    assert_eq!(
        reply.headers()["location"].to_str().unwrap(),
        "https://shop.example/spring?x=1&y=2"
    );
    let second = client
        .get(app.url(&format!("/v1/public/email/{token}/click/1")))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 302);
    assert_eq!(
        second.headers()["location"].to_str().unwrap(),
        "http://blog.example/post"
    );
    // Only the campaign's own links: out of range, a forged token, or no token shape: 404.
    let forged = "A".repeat(43);
    for path in [
        format!("/v1/public/email/{token}/click/2"),
        format!("/v1/public/email/{token}/click/-1"),
        format!("/v1/public/email/{forged}/click/0"),
        format!("/v1/public/email/{forged}/open.gif"),
        format!("/v1/public/email/{forged}/unsubscribe"),
        "/v1/public/email/short/click/0".to_owned(),
    ] {
        let reply = client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(reply.status(), 404, "{path}");
        let body = reply.text().await.unwrap();
        assert!(
            !body.contains(&id.to_string()) && !body.contains("li@"),
            "{body}"
        );
    }
    let reply = client
        .post(app.url(&format!("/v1/public/email/{forged}/unsubscribe")))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404);

    // Wang opens (the pixel); Li opened by clicking.
    let wang_mail = mails
        .iter()
        .find(|m| m.to == ["wang@wang.example"])
        .unwrap();
    let wang_token = token_in(wang_mail);
    let pixel = client
        .get(app.url(&format!("/v1/public/email/{wang_token}/open.gif")))
        .send()
        .await
        .unwrap();
    assert_eq!(pixel.status(), 200);
    assert_eq!(pixel.headers()["content-type"], "image/gif");
    assert!(pixel.bytes().await.unwrap().starts_with(b"GIF89a"));

    let counted = stats(&app, &marketer, id).await;
    assert_eq!(counted["messages"], 2, "{counted}");
    assert_eq!(counted["sent"], 2, "{counted}");
    assert_eq!(counted["bounced"], 0, "{counted}");
    assert_eq!(counted["opened"], 2, "{counted}");
    assert_eq!(counted["clicked"], 1, "{counted}");
    assert_eq!(counted["clicks"], 2, "{counted}");
    assert_eq!(counted["unsubscribed"], 0, "{counted}");
    assert_eq!(counted["open_rate"], 100.0, "{counted}");
    assert_eq!(counted["click_rate"], 50.0, "{counted}");
    // The campaign report shows the same figures.
    let report = app.get("/v1/reports/campaigns", &marketer).await;
    assert_eq!(report.status, 200, "{}", report.body);
    let row = report.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["campaign_id"] == id.to_string())
        .unwrap_or_else(|| panic!("no row of the campaign: {}", report.body));
    assert_eq!(
        (
            &row["sent"],
            &row["opened"],
            &row["clicked"],
            &row["bounced"]
        ),
        (&json!(2), &json!(2), &json!(1), &json!(0)),
        "{row}"
    );
    assert_eq!(
        (&row["open_rate"], &row["click_rate"]),
        (&json!(100.0), &json!(50.0))
    );
    let messages = member_messages(&app, &marketer, id).await;
    assert_eq!(messages.len(), 5, "every member, with or without a message");
    let li_message = message_of(&messages, li.1);
    assert_eq!(li_message["status"], "sent");
    assert_eq!(li_message["clicks"], 2);
    assert_eq!(li_message["opens"], 1);
    assert_eq!(
        li_message["member_status"], "responded",
        "a click is a response"
    );
    assert_eq!(message_of(&messages, wang.1)["opens"], 1);
    assert_eq!(message_of(&messages, wang.1)["member_status"], "invited");
    for skipped in [no_consent.1, no_address.1, withdrawn.1] {
        assert_eq!(message_of(&messages, skipped)["status"], Value::Null);
    }

    // One click on the link in the email withdraws consent and says so.
    let page = client.get(app.url(&unsubscribe)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("You are unsubscribed"), "{html}");
    let contact = app.get(&format!("/v1/contacts/{}", li.1), &admin).await;
    assert_eq!(contact.body["marketing_consent"]["granted"], false);
    assert_eq!(contact.body["marketing_consent"]["source"], "unsubscribe");
    let audited = app.audit_events(&li.1.to_string()).await;
    let withdrawal: Vec<&Value> = audited
        .iter()
        .filter(|e| e["action"] == "update" && e["actor_type"] == "system")
        .collect();
    assert_eq!(withdrawal.len(), 1, "{audited:#?}");
    // Again, by link or by the mail client's one-click POST: nothing more changes.
    let again = client.get(app.url(&unsubscribe)).send().await.unwrap();
    assert_eq!(again.status(), 200);
    let again = client.post(app.url(&unsubscribe)).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        app.audit_events(&li.1.to_string()).await.len(),
        audited.len()
    );
    // The mail client's one-click (RFC 8058) withdraws too.
    let one_click = client
        .post(app.url(&format!("/v1/public/email/{wang_token}/unsubscribe")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), 200);
    let contact = app.get(&format!("/v1/contacts/{}", wang.1), &admin).await;
    assert_eq!(contact.body["marketing_consent"]["granted"], false);

    let messages = member_messages(&app, &marketer, id).await;
    let li_message = message_of(&messages, li.1);
    assert_eq!(li_message["member_status"], "unsubscribed");
    assert!(li_message["unsubscribed_at"].is_string());
    assert_eq!(stats(&app, &marketer, id).await["unsubscribed"], 2);

    // A later send (its keyed job queued again) skips the unsubscribed: nothing new goes out.
    let again = app
        .post(&format!("/v1/campaigns/{id}/send"), &marketer, json!({}))
        .await;
    again.assert_status(202);
    assert_eq!(again.body["status"], "active");
    assert_eq!(
        again.header("etag"),
        Some("\"2\""),
        "already active: unchanged"
    );
    jobs_done(&app, &admin, "campaigns.send", 2).await;
    assert_eq!(stats(&app, &marketer, id).await["messages"], 2);
    assert_eq!(sink.mails().len(), 2);
}

async fn a_refused_recipient_is_a_bounce(app: TestApp, sink: SmtpSink) {
    let admin = app.admin_token().await;
    sink.refuse("gone@gone.example");
    let gone = customer_with_contact(
        &app,
        &admin,
        "Gone Ltd",
        consenting("Qian", Some("gone@gone.example")),
    )
    .await;
    let here = customer_with_contact(
        &app,
        &admin,
        "Here Ltd",
        consenting("Wu", Some("wu@here.example")),
    )
    .await;
    let id = campaign(
        &app,
        CampaignType::Email,
        Some("News"),
        Some("Hi {{contact.first_name}}"),
        &[gone, here],
    )
    .await;
    app.post(&format!("/v1/campaigns/{id}/send"), &admin, json!({}))
        .await
        .assert_status(202);
    jobs_done(&app, &admin, "campaigns.send", 1).await;
    // Both jobs succeed: a permanent refusal is recorded, not retried.
    let emails = jobs_done(&app, &admin, "campaigns.email", 2).await;
    // Spaced at RAPPORT_CAMPAIGN_RATE (6,000 a minute here: 10 ms apart).
    let mut due: Vec<chrono::DateTime<chrono::Utc>> = emails
        .iter()
        .map(|j| j["run_at"].as_str().unwrap().parse().unwrap())
        .collect();
    due.sort_unstable();
    assert_eq!(
        due[1] - due[0],
        chrono::Duration::milliseconds(10),
        "{emails:#?}"
    );
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["wu@here.example"]);
    let counted = stats(&app, &admin, id).await;
    assert_eq!(counted["sent"], 1, "{counted}");
    assert_eq!(counted["bounced"], 1, "{counted}");
    assert_eq!(counted["queued"], 0, "{counted}");
    let messages = member_messages(&app, &admin, id).await;
    let bounced = message_of(&messages, gone.1);
    assert_eq!(bounced["status"], "bounced");
    assert!(bounced["bounced_at"].is_string());
    assert_eq!(bounced["sent_at"], Value::Null);
}

async fn sending_is_refused_when_it_cannot_be_done(app: TestApp) {
    let admin = app.admin_token().await;
    let manager = app.user("sales_manager", None).await;
    let manager = app.token_of(&manager).await;
    let rep = app.user("sales_rep", None).await;
    let rep = app.token_of(&rep).await;
    let member = customer_with_contact(
        &app,
        &admin,
        "Refusal Co",
        consenting("Ma", Some("ma@refusal.example")),
    )
    .await;
    let email = campaign(
        &app,
        CampaignType::Email,
        Some("News"),
        Some("Hi"),
        &[member],
    )
    .await;
    let send = |id: Uuid| format!("/v1/campaigns/{id}/send");

    app.post(&send(email), "", json!({}))
        .await
        .assert_problem(401, "unauthorized");
    // Reading campaigns is not sending them.
    app.post(&send(email), &manager, json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.post(&send(Uuid::now_v7()), &admin, json!({}))
        .await
        .assert_problem(404, "not_found");
    let event = campaign(&app, CampaignType::Event, None, None, &[]).await;
    app.post(&send(event), &admin, json!({}))
        .await
        .assert_problem(409, "conflict");
    let unwritten = campaign(&app, CampaignType::Email, None, Some("Hi"), &[]).await;
    let refused = app.post(&send(unwritten), &admin, json!({})).await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["email_subject"]);
    let empty = campaign(&app, CampaignType::Email, None, None, &[]).await;
    let refused = app.post(&send(empty), &admin, json!({})).await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["email_subject", "email_body"]);
    // This server has no SMTP server: nothing can be sent, and nothing changes.
    app.post(&send(email), &admin, json!({}))
        .await
        .assert_problem(409, "email_not_configured");
    assert_eq!(
        stats(&app, &admin, email).await["status"],
        "planned",
        "still planned"
    );
    // A campaign that ended is not sent.
    let store = app.store().await;
    let tx = store.begin().await.unwrap();
    let mut ended: Campaign = campaigns::get(&tx, email).await.unwrap();
    ended.status = CampaignStatus::Completed;
    rapport_store::repos::save(&tx, &ended, app.clock.now())
        .await
        .unwrap();
    rapport_store::commit(tx).await.unwrap();
    store.close().await.unwrap();
    app.post(&send(email), &admin, json!({}))
        .await
        .assert_problem(409, "conflict");

    // The counts and the member messages: campaigns:read, an unknown campaign is 404.
    for path in [
        format!("/v1/campaigns/{email}/email-stats"),
        format!("/v1/campaigns/{email}/messages"),
    ] {
        app.get(&path, "").await.assert_problem(401, "unauthorized");
        app.get(&path, &rep).await.assert_problem(403, "forbidden");
        app.get(&path, &manager).await.assert_status(200);
    }
    let unknown = Uuid::now_v7();
    app.get(&format!("/v1/campaigns/{unknown}/email-stats"), &admin)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/campaigns/{unknown}/messages"), &admin)
        .await
        .assert_problem(404, "not_found");
    // Members follow their customer's visibility: a team's manager sees none of another's.
    let messages = member_messages(&app, &admin, email).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["status"], Value::Null);
    let team = app.team("East").await;
    let east = app.user("sales_manager", Some(team)).await;
    let east = app.token_of(&east).await;
    assert!(member_messages(&app, &east, email).await.is_empty());
}
