//! The access rules, one case at a time: whole-link denials, each permission, the contact policy
//! narrowing (never widening) the company policy, pipelines, object visibility (404) versus policy
//! refusals (403), and the shapes the API serves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use extranet::access::{
    decide, effective_policy, visible_scope, Action, CompanyFacts, CompanyStatus, ContactFacts, ContactState,
    DocumentFacts, Level, LinkFacts, LinkRecord, LinkStatus, Object, Outcome, PipelineFacts, Refused,
    RequestFacts, UserFacts, UserStatus, Verdict,
};
use extranet::domain::policy::{CompanyPolicy, ContactPolicy, Permission, Rule};
use serde_json::json;
use uuid::Uuid;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

const USER: u128 = 0x01;
const LINK: u128 = 0x02;
const CONTACT: u128 = 0x03;
const OTHER_CONTACT: u128 = 0x04;
/// Northern Light: on the link, everything allowed in SUPPORT and SALES (and the archived OLD).
const NORTHERN: u128 = 0x10;
/// Southwind: on the link with the recommended minimum in SUPPORT.
const SOUTHWIND: u128 = 0x11;
/// Vector's other client, never on this link.
const ELSEWHERE: u128 = 0x12;
const SUPPORT: u128 = 0x20;
const SALES: u128 = 0x21;
const OLD: u128 = 0x22;
const UNKNOWN_PIPELINE: u128 = 0x23;

fn all_allowed(pipelines: &[u128]) -> CompanyPolicy {
    let mut policy = CompanyPolicy::default();
    for p in Permission::ALL {
        policy.set(p, true);
    }
    policy.allowed_pipelines = pipelines.iter().map(|p| id(*p)).collect();
    policy
}

fn company(n: u128, name: &str, policy: CompanyPolicy) -> CompanyFacts {
    CompanyFacts { id: id(n), name: name.to_owned(), status: CompanyStatus::Active, policy }
}

/// Emily Carter's link: Northern Light (everything) and Southwind (the recommended minimum).
fn emily() -> LinkFacts {
    LinkFacts {
        user: UserFacts { id: id(USER), status: UserStatus::Active },
        link: LinkRecord { id: id(LINK), status: LinkStatus::Active, default_company_id: id(NORTHERN) },
        contact: ContactFacts { id: id(CONTACT), state: ContactState::Active },
        companies: vec![
            company(NORTHERN, "Northern Light", all_allowed(&[SUPPORT, SALES, OLD])),
            company(SOUTHWIND, "Southwind", CompanyPolicy::recommended_minimum(id(SUPPORT))),
        ],
        contact_policy: ContactPolicy::default(),
        pipelines: vec![
            PipelineFacts { id: id(SUPPORT), archived: false },
            PipelineFacts { id: id(SALES), archived: false },
            PipelineFacts { id: id(OLD), archived: true },
        ],
    }
}

fn northern_mut(facts: &mut LinkFacts) -> &mut CompanyPolicy {
    &mut facts.companies[0].policy
}

fn request(company: u128, pipeline: u128) -> Object {
    Object::Request(RequestFacts { id: id(0x99), company_id: id(company), pipeline_id: id(pipeline) })
}

fn document(company: u128, contact: Option<u128>, published: bool) -> Object {
    Object::Document(DocumentFacts {
        id: id(0x98),
        company_id: id(company),
        contact_id: contact.map(id),
        published,
    })
}

fn pipeline(company: u128, pipeline: u128) -> Object {
    Object::Pipeline { company_id: id(company), pipeline_id: id(pipeline) }
}

fn permission_action(p: Permission) -> (Action, Object) {
    match p {
        Permission::CreateRequests => (Action::CreateRequest, pipeline(NORTHERN, SUPPORT)),
        Permission::ReadRequestChat => (Action::ReadRequestChat, request(NORTHERN, SUPPORT)),
        Permission::SendRequestChat => (Action::SendRequestChat, request(NORTHERN, SUPPORT)),
        Permission::GeneralChat => (Action::GeneralChat, Object::Company(id(NORTHERN))),
        Permission::Calls => (Action::Calls, Object::Company(id(NORTHERN))),
        Permission::Telegram => (Action::Telegram, Object::Company(id(NORTHERN))),
        Permission::Widget => (Action::Widget, Object::Company(id(NORTHERN))),
    }
}

fn fails_at(decision: &extranet::access::Decision, level: Level) -> Vec<String> {
    decision
        .chain
        .iter()
        .filter(|s| s.level == level && s.outcome == Outcome::Fail)
        .map(|s| s.reason.clone())
        .collect()
}

// ---------------------------------------------------------------- policies and their shapes

#[test]
fn a_new_company_policy_denies_everything_and_the_minimum_is_only_a_preset() {
    let new = CompanyPolicy::default();
    assert!(Permission::ALL.iter().all(|p| !new.allows(*p)));
    assert!(new.allowed_pipelines.is_empty());

    let mut facts = emily();
    *northern_mut(&mut facts) = CompanyPolicy::default();
    let effective = effective_policy(&facts, id(NORTHERN));
    assert!(!effective.is_denied_as_a_whole(), "the company is still visible, just with nothing allowed");
    for p in Permission::ALL {
        assert!(!effective.allows(p), "{p}");
        assert_eq!(effective.denial(p).unwrap().level, Level::CompanyPolicy, "{p}");
    }
    assert!(effective.policy.allowed_pipelines.is_empty());
    let none = effective.denials.iter().find(|d| d.field == "allowed_pipelines" && d.pipeline_id.is_none());
    assert!(none.unwrap().reason.contains("allows no pipeline"));

    let preset = CompanyPolicy::recommended_minimum(id(SUPPORT));
    let on: Vec<Permission> = Permission::ALL.into_iter().filter(|p| preset.allows(*p)).collect();
    assert_eq!(on, [Permission::CreateRequests, Permission::ReadRequestChat, Permission::SendRequestChat]);
    assert_eq!(preset.allowed_pipelines, [id(SUPPORT)]);
}

#[test]
fn permission_names_are_stable_in_every_form() {
    let names = [
        "create_requests",
        "read_request_chat",
        "send_request_chat",
        "general_chat",
        "calls",
        "telegram",
        "widget",
    ];
    for (p, name) in Permission::ALL.iter().zip(names) {
        assert_eq!(p.as_str(), name);
        assert_eq!(serde_json::to_value(p).unwrap(), json!(name));
        assert_eq!(Permission::parse(name), Some(*p));
        assert_eq!(name.parse::<Permission>().unwrap(), *p);
    }
    assert_eq!(Permission::parse("pipelines"), None);
}

#[test]
fn company_policy_json_has_exactly_the_api_fields() {
    let policy = CompanyPolicy::recommended_minimum(id(SUPPORT));
    assert_eq!(
        serde_json::to_value(&policy).unwrap(),
        json!({
            "create_requests": true, "read_request_chat": true, "send_request_chat": true,
            "general_chat": false, "calls": false, "telegram": false, "widget": false,
            "allowed_pipelines": [id(SUPPORT).to_string()],
        })
    );
    // A PUT body that leaves a field out leaves it denied; unknown fields are ignored.
    let parsed: CompanyPolicy = serde_json::from_value(json!({"calls": true, "colour": "red"})).unwrap();
    assert!(parsed.calls && !parsed.create_requests && parsed.allowed_pipelines.is_empty());
    assert!(serde_json::from_value::<CompanyPolicy>(json!({"calls": "yes"})).is_err());
    assert!(serde_json::from_value::<CompanyPolicy>(json!({"allowed_pipelines": ["not-a-uuid"]})).is_err());
}

#[test]
fn contact_policy_json_uses_inherit_allow_deny_and_null_pipelines() {
    let mut policy = ContactPolicy::default();
    policy.set_rule(Permission::Calls, Rule::Deny);
    policy.set_rule(Permission::Widget, Rule::Allow);
    assert_eq!(
        serde_json::to_value(&policy).unwrap(),
        json!({
            "create_requests": "inherit", "read_request_chat": "inherit", "send_request_chat": "inherit",
            "general_chat": "inherit", "calls": "deny", "telegram": "inherit", "widget": "allow",
            "allowed_pipelines": null,
        })
    );
    let parsed: ContactPolicy =
        serde_json::from_value(json!({"telegram": "deny", "allowed_pipelines": [id(SALES).to_string()]}))
            .unwrap();
    assert_eq!(parsed.rule(Permission::Telegram), Rule::Deny);
    assert_eq!(parsed.rule(Permission::Calls), Rule::Inherit);
    assert_eq!(parsed.allowed_pipelines, Some(vec![id(SALES)]));
    assert!(serde_json::from_value::<ContactPolicy>(json!({"calls": "maybe"})).is_err());
    assert!(serde_json::from_value::<ContactPolicy>(json!({"calls": true})).is_err());
    assert_eq!(Rule::parse("deny"), Some(Rule::Deny));
}

// ---------------------------------------------------------------- whole-link denials

#[test]
fn each_whole_link_denial_hides_everything_at_the_level_that_denied_it() {
    type Spoil = fn(&mut LinkFacts);
    let cases: [(&str, Spoil, Level, &str); 6] = [
        ("blocked user", |f| f.user.status = UserStatus::Blocked, Level::User, "blocked"),
        ("disabled link", |f| f.link.status = LinkStatus::Disabled, Level::Link, "disabled"),
        ("revoked link", |f| f.link.status = LinkStatus::Revoked, Level::Link, "revoked"),
        ("draft contact", |f| f.contact.state = ContactState::Draft, Level::Contact, "draft"),
        ("duplicate contact", |f| f.contact.state = ContactState::Duplicate, Level::Contact, "duplicate"),
        ("archived company", |f| f.companies[0].status = CompanyStatus::Archived, Level::Company, "archived"),
    ];
    for (name, spoil, level, word) in cases {
        let mut facts = emily();
        spoil(&mut facts);
        let effective = effective_policy(&facts, id(NORTHERN));
        let whole = effective.denied_as_a_whole.as_ref().unwrap_or_else(|| panic!("{name}: not denied"));
        assert_eq!(whole.level, level, "{name}");
        assert!(whole.reason.contains(word), "{name}: {}", whole.reason);
        assert!(Permission::ALL.iter().all(|p| !effective.allows(*p)), "{name}");
        assert!(effective.policy.allowed_pipelines.is_empty(), "{name}");
        assert!(Permission::ALL.iter().all(|p| effective.denial(*p).unwrap().level == level), "{name}");

        // Hidden, not refused: the client gets 404, never a 403 that confirms the thing exists.
        for (action, object) in [
            (Action::View, request(NORTHERN, SUPPORT)),
            (Action::GeneralChat, Object::Company(id(NORTHERN))),
            (Action::CreateRequest, pipeline(NORTHERN, SUPPORT)),
            (Action::View, document(NORTHERN, None, true)),
        ] {
            let decision = decide(&facts, action, &object);
            assert_eq!(decision.verdict, Verdict::NotVisible, "{name} {action}");
            assert_eq!(fails_at(&decision, level).len(), 1, "{name} {action}: {:?}", decision.chain);
        }
    }
}

#[test]
fn a_company_not_on_the_link_has_nothing_and_its_objects_do_not_exist() {
    let facts = emily();
    let effective = effective_policy(&facts, id(ELSEWHERE));
    assert_eq!(effective.denied_as_a_whole.as_ref().unwrap().level, Level::Company);
    assert!(effective.denied_as_a_whole.as_ref().unwrap().reason.contains("not on the link"));

    // Even in a pipeline Northern Light allows, another company's request is simply not there.
    for (action, object) in [
        (Action::View, request(ELSEWHERE, SUPPORT)),
        (Action::ReadRequestChat, request(ELSEWHERE, SUPPORT)),
        (Action::View, document(ELSEWHERE, None, true)),
        (Action::ActOnDocument, document(ELSEWHERE, Some(CONTACT), true)),
        (Action::CreateRequest, pipeline(ELSEWHERE, SUPPORT)),
        (Action::Calls, Object::Company(id(ELSEWHERE))),
    ] {
        assert_eq!(decide(&facts, action, &object).verdict, Verdict::NotVisible, "{action}");
    }
}

#[test]
fn every_failed_whole_link_check_is_shown_at_once_in_chain_order() {
    let mut facts = emily();
    facts.user.status = UserStatus::Blocked;
    facts.link.status = LinkStatus::Disabled;
    facts.contact.state = ContactState::Draft;
    let decision = decide(&facts, Action::View, &request(ELSEWHERE, SUPPORT));
    let failed: Vec<Level> =
        decision.chain.iter().filter(|s| s.outcome == Outcome::Fail).map(|s| s.level).collect();
    assert_eq!(failed, [Level::User, Level::Link, Level::Contact, Level::Company]);
    // The effective policy names the first of them.
    assert_eq!(effective_policy(&facts, id(NORTHERN)).denied_as_a_whole.unwrap().level, Level::User);
}

// ---------------------------------------------------------------- permissions

#[test]
fn each_permission_is_enforced_on_its_own() {
    for p in Permission::ALL {
        let (action, object) = permission_action(p);

        let allowed = decide(&emily(), action, &object);
        assert_eq!(allowed.verdict, Verdict::Allow, "{p}: {:?}", allowed.chain);

        let mut company_denies = emily();
        northern_mut(&mut company_denies).set(p, false);
        let decision = decide(&company_denies, action, &object);
        assert_eq!(decision.verdict, Verdict::PolicyDenied(Refused::Permission(p)), "{p}");
        assert!(!fails_at(&decision, Level::CompanyPolicy).is_empty(), "{p}");
        let effective = effective_policy(&company_denies, id(NORTHERN));
        let denied: Vec<Permission> = Permission::ALL.into_iter().filter(|q| !effective.allows(*q)).collect();
        let expected = if p == Permission::ReadRequestChat {
            vec![Permission::ReadRequestChat, Permission::SendRequestChat]
        } else {
            vec![p]
        };
        assert_eq!(denied, expected, "company denies {p}");

        let mut contact_denies = emily();
        contact_denies.contact_policy.set_rule(p, Rule::Deny);
        let decision = decide(&contact_denies, action, &object);
        assert_eq!(decision.verdict, Verdict::PolicyDenied(Refused::Permission(p)), "{p}");
        assert!(!fails_at(&decision, Level::ContactPolicy).is_empty(), "{p}");
        let denial = effective_policy(&contact_denies, id(NORTHERN)).denial(p).cloned().unwrap();
        assert_eq!(denial.level, Level::ContactPolicy, "{p}");
        assert!(denial.reason.contains("contact policy denies"), "{p}: {}", denial.reason);

        // The other company on the link is unaffected by Northern Light's policy.
        assert_eq!(
            effective_policy(&company_denies, id(SOUTHWIND)),
            effective_policy(&emily(), id(SOUTHWIND)),
            "{p}"
        );
    }
}

#[test]
fn an_allow_under_a_company_deny_stays_denied_and_says_the_company_policy_denied_it() {
    let mut facts = emily();
    facts.contact_policy.set_rule(Permission::Calls, Rule::Allow);
    facts.contact_policy.set_rule(Permission::Widget, Rule::Allow);
    // Southwind (the recommended minimum) denies calls and the widget.
    let effective = effective_policy(&facts, id(SOUTHWIND));
    for p in [Permission::Calls, Permission::Widget] {
        assert!(!effective.allows(p));
        let denial = effective.denial(p).unwrap();
        assert_eq!(denial.level, Level::CompanyPolicy);
        assert!(denial.reason.contains("policy of company Southwind denies"), "{}", denial.reason);
        assert!(denial.reason.contains("cannot widen"), "{}", denial.reason);
    }
    let decision = decide(&facts, Action::Calls, &Object::Company(id(SOUTHWIND)));
    assert_eq!(decision.verdict, Verdict::PolicyDenied(Refused::Permission(Permission::Calls)));
    let contact_step = decision.chain.iter().find(|s| s.level == Level::ContactPolicy).unwrap();
    assert_eq!(contact_step.outcome, Outcome::Pass, "the contact's allow itself denies nothing");
    assert!(contact_step.reason.contains("never widens"));
}

#[test]
fn inherit_and_allow_follow_the_company_both_ways() {
    for rule in [Rule::Inherit, Rule::Allow] {
        let mut facts = emily();
        for p in Permission::ALL {
            facts.contact_policy.set_rule(p, rule);
        }
        let northern = effective_policy(&facts, id(NORTHERN));
        assert!(Permission::ALL.iter().all(|p| northern.allows(*p)), "{rule:?}");
        let southwind = effective_policy(&facts, id(SOUTHWIND));
        let southwind_company = &facts.companies[1].policy;
        assert!(
            Permission::ALL.iter().all(|p| southwind.allows(*p) == southwind_company.allows(*p)),
            "{rule:?}"
        );
    }
}

#[test]
fn sending_in_a_request_chat_requires_reading_it() {
    let mut facts = emily();
    northern_mut(&mut facts).read_request_chat = false;
    let effective = effective_policy(&facts, id(NORTHERN));
    assert!(!effective.allows(Permission::SendRequestChat));
    let denial = effective.denial(Permission::SendRequestChat).unwrap();
    assert_eq!(denial.level, Level::Effective);
    assert!(denial.reason.contains("requires read_request_chat"), "{}", denial.reason);
    let decision = decide(&facts, Action::SendRequestChat, &request(NORTHERN, SUPPORT));
    assert_eq!(decision.verdict, Verdict::PolicyDenied(Refused::Permission(Permission::SendRequestChat)));
    assert!(fails_at(&decision, Level::Effective)[0].contains("requires read_request_chat"));

    // The same when it is the contact policy that takes reading away.
    let mut facts = emily();
    facts.contact_policy.set_rule(Permission::ReadRequestChat, Rule::Deny);
    let denial = effective_policy(&facts, id(NORTHERN)).denial(Permission::SendRequestChat).cloned().unwrap();
    assert_eq!(denial.level, Level::Effective);
    assert!(denial.reason.contains("contact policy denies read_request_chat"), "{}", denial.reason);

    // Reading alone is fine.
    let mut facts = emily();
    northern_mut(&mut facts).send_request_chat = false;
    assert!(effective_policy(&facts, id(NORTHERN)).allows(Permission::ReadRequestChat));
}

// ---------------------------------------------------------------- pipelines

#[test]
fn pipelines_are_the_company_list_intersected_with_the_contact_list() {
    let mut facts = emily();
    assert_eq!(effective_policy(&facts, id(NORTHERN)).policy.allowed_pipelines, [id(SUPPORT), id(SALES)]);

    facts.contact_policy.allowed_pipelines = Some(vec![id(SALES), id(UNKNOWN_PIPELINE)]);
    let northern = effective_policy(&facts, id(NORTHERN));
    assert_eq!(northern.policy.allowed_pipelines, [id(SALES)]);
    let dropped = northern.pipeline_denial(id(SUPPORT)).unwrap();
    assert_eq!(dropped.level, Level::ContactPolicy);
    // A pipeline only the contact lists is not added: the contact cannot widen the company.
    let widened = northern.pipeline_denial(id(UNKNOWN_PIPELINE)).unwrap();
    assert_eq!(widened.level, Level::CompanyPolicy);
    assert!(widened.reason.contains("cannot widen"));
    // Southwind allows only SUPPORT, which the contact's list leaves out.
    assert!(effective_policy(&facts, id(SOUTHWIND)).policy.allowed_pipelines.is_empty());

    facts.contact_policy.allowed_pipelines = Some(vec![]);
    assert!(effective_policy(&facts, id(NORTHERN)).policy.allowed_pipelines.is_empty());
}

#[test]
fn archived_and_unknown_pipelines_are_never_allowed() {
    let mut facts = emily();
    northern_mut(&mut facts).allowed_pipelines.push(id(UNKNOWN_PIPELINE));
    let effective = effective_policy(&facts, id(NORTHERN));
    assert!(!effective.allows_pipeline(id(OLD)));
    assert!(!effective.allows_pipeline(id(UNKNOWN_PIPELINE)));
    assert!(effective.pipeline_denial(id(OLD)).unwrap().reason.contains("archived"));
    assert!(effective.pipeline_denial(id(UNKNOWN_PIPELINE)).unwrap().reason.contains("does not exist"));

    assert_eq!(
        decide(&facts, Action::CreateRequest, &pipeline(NORTHERN, OLD)).verdict,
        Verdict::PolicyDenied(Refused::Pipeline)
    );
    assert_eq!(decide(&facts, Action::View, &request(NORTHERN, OLD)).verdict, Verdict::NotVisible);
}

#[test]
fn creating_a_request_needs_the_permission_and_an_allowed_pipeline() {
    let facts = emily();
    assert_eq!(decide(&facts, Action::CreateRequest, &pipeline(SOUTHWIND, SUPPORT)).verdict, Verdict::Allow);
    // Southwind does not allow SALES: 403 naming the pipeline, as the API says.
    let decision = decide(&facts, Action::CreateRequest, &pipeline(SOUTHWIND, SALES));
    assert_eq!(decision.verdict, Verdict::PolicyDenied(Refused::Pipeline));
    assert_eq!(serde_json::to_value(&decision).unwrap()["permission"], "pipeline");

    let mut facts = emily();
    facts.contact_policy.set_rule(Permission::CreateRequests, Rule::Deny);
    // Both refused: the permission is named first.
    assert_eq!(
        decide(&facts, Action::CreateRequest, &pipeline(SOUTHWIND, SALES)).verdict,
        Verdict::PolicyDenied(Refused::Permission(Permission::CreateRequests))
    );
}

#[test]
fn a_pipeline_is_visible_only_where_it_is_allowed() {
    let facts = emily();
    assert_eq!(decide(&facts, Action::View, &pipeline(NORTHERN, SALES)).verdict, Verdict::Allow);
    assert_eq!(decide(&facts, Action::View, &pipeline(SOUTHWIND, SALES)).verdict, Verdict::NotVisible);
    assert_eq!(decide(&facts, Action::View, &pipeline(NORTHERN, OLD)).verdict, Verdict::NotVisible);
}

// ---------------------------------------------------------------- requests and documents

#[test]
fn a_request_is_visible_when_its_pipeline_is_allowed_at_its_company() {
    let facts = emily();
    assert_eq!(decide(&facts, Action::View, &request(NORTHERN, SALES)).verdict, Verdict::Allow);
    assert_eq!(decide(&facts, Action::View, &request(SOUTHWIND, SUPPORT)).verdict, Verdict::Allow);
    let hidden = decide(&facts, Action::View, &request(SOUTHWIND, SALES));
    assert_eq!(hidden.verdict, Verdict::NotVisible);
    assert!(fails_at(&hidden, Level::Object).iter().any(|r| r.contains("not allowed at company Southwind")));

    // A chat permission on a hidden request answers 404, not 403.
    let mut facts = emily();
    facts.companies[1].policy.read_request_chat = false;
    assert_eq!(
        decide(&facts, Action::ReadRequestChat, &request(SOUTHWIND, SALES)).verdict,
        Verdict::NotVisible
    );
    assert_eq!(
        decide(&facts, Action::ReadRequestChat, &request(SOUTHWIND, SUPPORT)).verdict,
        Verdict::PolicyDenied(Refused::Permission(Permission::ReadRequestChat))
    );
}

#[test]
fn calls_on_a_request_need_the_request_visible_and_calls_allowed() {
    let facts = emily();
    assert_eq!(decide(&facts, Action::Calls, &request(NORTHERN, SUPPORT)).verdict, Verdict::Allow);
    assert_eq!(
        decide(&facts, Action::Calls, &request(SOUTHWIND, SUPPORT)).verdict,
        Verdict::PolicyDenied(Refused::Permission(Permission::Calls))
    );
    assert_eq!(decide(&facts, Action::Calls, &request(SOUTHWIND, SALES)).verdict, Verdict::NotVisible);
}

#[test]
fn a_document_is_visible_when_published_for_everyone_or_for_this_contact() {
    let facts = emily();
    let cases = [
        (document(NORTHERN, None, true), Verdict::Allow),
        (document(NORTHERN, Some(CONTACT), true), Verdict::Allow),
        (document(NORTHERN, Some(OTHER_CONTACT), true), Verdict::NotVisible),
        (document(NORTHERN, None, false), Verdict::NotVisible),
        (document(NORTHERN, Some(CONTACT), false), Verdict::NotVisible),
        (document(ELSEWHERE, Some(CONTACT), true), Verdict::NotVisible),
    ];
    for (object, expected) in cases {
        assert_eq!(decide(&facts, Action::View, &object).verdict, expected, "{object:?}");
        assert_eq!(decide(&facts, Action::ActOnDocument, &object).verdict, expected, "{object:?}");
    }
    // Documents need no permission: a company with everything denied still shows its documents.
    let mut facts = emily();
    *northern_mut(&mut facts) = CompanyPolicy::default();
    assert_eq!(decide(&facts, Action::View, &document(NORTHERN, None, true)).verdict, Verdict::Allow);
    let other = decide(&facts, Action::View, &document(NORTHERN, Some(OTHER_CONTACT), true));
    assert!(fails_at(&other, Level::Object)[0].contains("another contact"));
}

// ---------------------------------------------------------------- decisions

#[test]
fn an_action_that_does_not_apply_to_the_object_is_refused() {
    let facts = emily();
    for (action, object) in [
        (Action::SendRequestChat, document(NORTHERN, None, true)),
        (Action::ActOnDocument, request(NORTHERN, SUPPORT)),
        (Action::CreateRequest, Object::Company(id(NORTHERN))),
        (Action::Telegram, request(NORTHERN, SUPPORT)),
    ] {
        assert!(!action.applies_to(&object));
        let decision = decide(&facts, action, &object);
        assert_eq!(decision.verdict, Verdict::NotVisible, "{action}");
        assert!(fails_at(&decision, Level::Object)[0].contains("does not apply"));
    }
}

#[test]
fn actions_parse_from_their_names_and_from_permission_names() {
    for action in Action::ALL {
        assert_eq!(Action::parse(action.as_str()), Some(action));
    }
    assert_eq!(Action::parse("create_requests"), Some(Action::CreateRequest));
    assert_eq!(Action::parse("calls"), Some(Action::Calls));
    assert_eq!(Action::parse("delete"), None);
}

#[test]
fn the_chain_runs_from_user_to_object_and_serializes_for_diagnostics() {
    let mut facts = emily();
    facts.contact_policy.set_rule(Permission::SendRequestChat, Rule::Deny);
    let decision = decide(&facts, Action::SendRequestChat, &request(NORTHERN, SUPPORT));
    let levels: Vec<Level> = decision.chain.iter().map(|s| s.level).collect();
    assert!(levels.windows(2).all(|w| w[0] <= w[1]), "{levels:?}");
    assert_eq!(levels[..4], [Level::User, Level::Link, Level::Contact, Level::Company]);
    assert_eq!(levels.last(), Some(&Level::Object));

    let body = serde_json::to_value(&decision).unwrap();
    assert_eq!(body["verdict"], "policy_denied");
    assert_eq!(body["permission"], "send_request_chat");
    assert_eq!(body["chain"][0]["level"], "user");
    assert_eq!(body["chain"][0]["outcome"], "pass");
    assert_eq!(body["chain"][0]["subject"], format!("user {}", id(USER)));
    let failed: Vec<&serde_json::Value> =
        body["chain"].as_array().unwrap().iter().filter(|s| s["outcome"] == "fail").collect();
    assert!(failed.iter().any(|s| s["level"] == "contact_policy"));
    assert!(failed.iter().all(|s| s["subject"] == "send_request_chat"));

    let allowed = serde_json::to_value(decide(&emily(), Action::View, &request(NORTHERN, SUPPORT))).unwrap();
    assert_eq!(allowed["verdict"], "allow");
    assert_eq!(allowed["permission"], serde_json::Value::Null);
}

#[test]
fn the_effective_policy_serializes_with_the_policy_fields_and_every_denial() {
    let mut facts = emily();
    facts.contact_policy.set_rule(Permission::Calls, Rule::Deny);
    let body = serde_json::to_value(effective_policy(&facts, id(SOUTHWIND))).unwrap();
    assert_eq!(body["company_id"], id(SOUTHWIND).to_string());
    assert_eq!(body["denied_as_a_whole"], serde_json::Value::Null);
    assert_eq!(body["create_requests"], true);
    assert_eq!(body["calls"], false);
    assert_eq!(body["allowed_pipelines"], json!([id(SUPPORT).to_string()]));
    let denied: Vec<&str> =
        body["denials"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(denied, ["general_chat", "calls", "telegram", "widget"]);
    assert_eq!(body["denials"][1]["level"], "company_policy");

    // It reads back (the effective policy may be cached by policy version).
    let effective = effective_policy(&facts, id(NORTHERN));
    let back: extranet::access::Effective =
        serde_json::from_value(serde_json::to_value(&effective).unwrap()).unwrap();
    assert_eq!(back, effective);
}

// ---------------------------------------------------------------- list filters

#[test]
fn the_visible_scope_lists_each_visible_company_with_its_pipelines() {
    let mut facts = emily();
    facts.contact_policy.allowed_pipelines = Some(vec![id(SUPPORT), id(SALES)]);
    let scope = visible_scope(&facts);
    assert_eq!(scope.contact_id, id(CONTACT));
    assert_eq!(scope.company_ids(), [id(NORTHERN), id(SOUTHWIND)]);
    assert_eq!(scope.pipeline_ids(id(NORTHERN)), [id(SUPPORT), id(SALES)]);
    assert_eq!(scope.pipeline_ids_json(id(SOUTHWIND)), format!("[\"{}\"]", id(SUPPORT)));
    assert_eq!(scope.pipeline_ids_json(id(ELSEWHERE)), "[]");
    let companies: Vec<String> = serde_json::from_str(&scope.company_ids_json()).unwrap();
    assert_eq!(companies, [id(NORTHERN).to_string(), id(SOUTHWIND).to_string()]);
    let pairs: Vec<(String, String)> = serde_json::from_str(&scope.request_pairs_json()).unwrap();
    assert_eq!(pairs.len(), 3);
    assert!(pairs.contains(&(id(SOUTHWIND).to_string(), id(SUPPORT).to_string())));
    assert!(scope.shows_request(id(NORTHERN), id(SALES)));
    assert!(!scope.shows_request(id(SOUTHWIND), id(SALES)));
    assert!(scope.shows_document(&DocumentFacts {
        id: id(1),
        company_id: id(SOUTHWIND),
        contact_id: None,
        published: true
    }));

    // An archived company drops out; a disabled link sees nothing.
    facts.companies[1].status = CompanyStatus::Archived;
    assert_eq!(visible_scope(&facts).company_ids(), [id(NORTHERN)]);
    facts.link.status = LinkStatus::Disabled;
    let none = visible_scope(&facts);
    assert!(none.companies.is_empty());
    assert_eq!(none.company_ids_json(), "[]");
    assert_eq!(none.request_pairs_json(), "[]");
}

#[test]
fn the_list_filters_select_exactly_the_rows_decide_shows() {
    // The JSON filters as SQLite's json_each reads them, over a small table of requests.
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE requests (id TEXT, company_id TEXT, pipeline_id TEXT)").unwrap();
    let mut rows = Vec::new();
    for (n, (c, p)) in [NORTHERN, SOUTHWIND, ELSEWHERE]
        .into_iter()
        .flat_map(|c| [SUPPORT, SALES, OLD].map(|p| (c, p)))
        .enumerate()
    {
        let row = RequestFacts { id: id(0x1000 + n as u128), company_id: id(c), pipeline_id: id(p) };
        conn.execute(
            "INSERT INTO requests VALUES (?1, ?2, ?3)",
            (row.id.to_string(), row.company_id.to_string(), row.pipeline_id.to_string()),
        )
        .unwrap();
        rows.push(row);
    }
    let scope = visible_scope(&emily());
    let mut stmt = conn
        .prepare(
            "SELECT id FROM requests r WHERE EXISTS (SELECT 1 FROM json_each(?1) AS v \
             WHERE v.value ->> 0 = r.company_id AND v.value ->> 1 = r.pipeline_id) ORDER BY id",
        )
        .unwrap();
    let listed: Vec<String> =
        stmt.query_map([scope.request_pairs_json()], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    let shown: Vec<String> = rows
        .iter()
        .filter(|r| decide(&emily(), Action::View, &Object::Request(**r)).verdict == Verdict::Allow)
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(listed, shown);
    assert_eq!(shown.len(), 3, "NORTHERN: SUPPORT and SALES; SOUTHWIND: SUPPORT");

    let mut stmt = conn
        .prepare(
            "SELECT id FROM requests WHERE company_id = ?1 \
             AND pipeline_id IN (SELECT value FROM json_each(?2)) ORDER BY id",
        )
        .unwrap();
    let northern: Vec<String> = stmt
        .query_map((id(NORTHERN).to_string(), scope.pipeline_ids_json(id(NORTHERN))), |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(northern, shown[..2]);
}
