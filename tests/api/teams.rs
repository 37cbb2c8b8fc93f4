//! Teams.

use rapport_tests::{TestApp, backend_tests};
use serde_json::json;

backend_tests!(
    teams_lifecycle,
    team_refusals,
    a_team_with_customers_cannot_be_deleted,
    unowned_leads_go_to_the_teams_sales_reps,
);

async fn teams_lifecycle(app: TestApp) {
    let admin = app.admin_token().await;
    let manager = app.user("sales_manager", None).await;
    let created = app
        .post(
            "/v1/teams",
            &admin,
            json!({"name": "华东销售部", "manager_id": manager.id}),
        )
        .await;
    created.assert_status(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["manager_id"], json!(manager.id));

    // Anyone signed in reads teams.
    let rep = app.user("sales_rep", None).await;
    app.get(&format!("/v1/teams/{id}"), &rep.token)
        .await
        .assert_status(200);
    let listed = app.get("/v1/teams", &rep.token).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);

    let updated = app
        .patch(
            &format!("/v1/teams/{id}"),
            &admin,
            json!({"manager_id": null}),
        )
        .await;
    updated.assert_status(200);
    assert_eq!(updated.body["manager_id"], json!(null));

    // A team with members cannot be deleted; an empty one can.
    let member = app.user("sales_rep", Some(id.parse().unwrap())).await;
    app.delete(&format!("/v1/teams/{id}"), &admin)
        .await
        .assert_problem(409, "conflict");
    app.patch(
        &format!("/v1/users/{}", member.id),
        &admin,
        json!({"team_id": null}),
    )
    .await
    .assert_status(200);
    app.delete(&format!("/v1/teams/{id}"), &admin)
        .await
        .assert_status(204);
    app.get(&format!("/v1/teams/{id}"), &admin)
        .await
        .assert_problem(404, "not_found");
}

async fn team_refusals(app: TestApp) {
    let admin = app.admin_token().await;
    app.post("/v1/teams", &admin, json!({"name": "Same"}))
        .await
        .assert_status(201);
    app.post("/v1/teams", &admin, json!({"name": "Same"}))
        .await
        .assert_problem(409, "duplicate");
    let bad = app
        .post(
            "/v1/teams",
            &admin,
            json!({"name": "", "manager_id": uuid::Uuid::now_v7()}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.error_fields(), ["name", "manager_id"]);
    let rep = app.user("sales_rep", None).await;
    app.post("/v1/teams", &rep.token, json!({"name": "Mine"}))
        .await
        .assert_problem(403, "forbidden");
}

async fn a_team_with_customers_cannot_be_deleted(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("Accounts").await;
    app.customer(&admin, json!({"name": "Held", "team_id": team}))
        .await;
    app.delete(&format!("/v1/teams/{team}"), &admin)
        .await
        .assert_problem(409, "conflict");
}

async fn unowned_leads_go_to_the_teams_sales_reps(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app
        .post(
            "/v1/teams",
            &admin,
            json!({"name": "Inbound", "assignment": "least_loaded"}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let team_id = team.parse().unwrap();
    let r1 = app.user("sales_rep", Some(team_id)).await;
    let r2 = app.user("sales_rep", Some(team_id)).await;
    // r1 already owns a lead; the form's leads (an integration's, owned by nobody) go to r2,
    // then in turn.
    app.customer(&r1.token, json!({"name": "Own lead"})).await;
    let form = app
        .client_token(&["customers:read", "customers:write"])
        .await;
    let mut owners = Vec::new();
    for name in ["Web lead 1", "Web lead 2", "Web lead 3"] {
        let id = app
            .customer(&form, json!({"name": name, "team_id": team}))
            .await;
        let got = app.get(&format!("/v1/customers/{id}"), &admin).await.body;
        owners.push(got["owner_id"].clone());
        // The follow-up task is the new owner's.
        let tasks = app
            .get(&format!("/v1/tasks?customer_id={id}"), &admin)
            .await
            .body;
        assert_eq!(tasks["data"][0]["assignee_id"], got["owner_id"]);
    }
    assert_eq!(owners, [json!(r2.id), json!(r1.id), json!(r2.id)]);

    // A customer that is not a lead keeps no owner.
    let id = app
        .customer(
            &form,
            json!({"name": "Old friend", "team_id": team, "lifecycle_stage": "customer"}),
        )
        .await;
    let got = app.get(&format!("/v1/customers/{id}"), &admin).await.body;
    assert_eq!(got["owner_id"], json!(null));
}
