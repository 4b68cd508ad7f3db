//! The wizard's and the patch plan's rules, as tables of plain tests.

use super::*;
use super::wizard::*;
use super::patch::*;
use crate::app::ApiError;
use crate::access::facts::{CompanyStatus, ContactState, LinkStatus, UserStatus};
use crate::domain::login::{Email, Login};
use uuid::Uuid;

fn nl() -> Uuid {
    Uuid::parse_str("0190a000-0000-7000-8000-000000000001").unwrap()
}

fn bh() -> Uuid {
    Uuid::parse_str("0190a000-0000-7000-8000-000000000002").unwrap()
}

fn contact(state: ContactState) -> ContactRow {
    ContactRow {
        id: "c1".into(),
        first_name: "Emily".into(),
        last_name: "Carter".into(),
        email: "emily@example.com".into(),
        state,
        duplicate_of: (state == ContactState::Duplicate).then(|| "c0".to_owned()),
        duplicate_first_name: Some("Emily".into()),
        duplicate_last_name: Some("Carter".into()),
        company_ids: None,
    }
}

fn company(id: Uuid, related: bool, status: CompanyStatus, has_policy: bool) -> CompanyRow {
    CompanyRow { id: id.to_string(), name: format!("co {id}"), status, related, has_policy }
}

fn new_user() -> UserChoice {
    UserChoice::New(NewUser {
        login: Login::parse("emily").unwrap(),
        email: Email::parse("emily@example.com").unwrap(),
        first_name: "Emily".into(),
        last_name: "Carter".into(),
    })
}

fn codes(notes: &[Note]) -> Vec<&'static str> {
    notes.iter().map(|n| n.code).collect()
}

#[test]
fn a_clean_wizard_has_no_problems_and_a_single_company_is_the_default() {
    let w = Wizard { user: new_user(), contact_id: Uuid::nil(), company_ids: vec![nl()], default_company_id: None };
    let facts = WizardFacts { contact: contact(ContactState::Active), companies: vec![company(nl(), true, CompanyStatus::Active, true)], user: None, user_links: vec![] };
    let p = assess(&w, &facts);
    assert!(p.ok, "{:?}", p.problems);
    assert_eq!(p.default_company_id, Some(nl().to_string()));
    assert_eq!(codes(&p.warnings), vec!["invitation_needed"]);
}

#[test]
fn every_blocking_rule_is_reported_together() {
    let w = Wizard { user: new_user(), contact_id: Uuid::nil(), company_ids: vec![nl(), bh()], default_company_id: None };
    let facts = WizardFacts {
        contact: contact(ContactState::Duplicate),
        companies: vec![company(nl(), false, CompanyStatus::Archived, false), company(bh(), true, CompanyStatus::Active, true)],
        user: Some(UserRow {
            id: "u".into(),
            kind: "external".into(),
            status: UserStatus::Active,
            login: "emily".into(),
            email: None,
            first_name: String::new(),
            last_name: String::new(),
            has_password: true,
        }),
        user_links: vec![],
    };
    let p = assess(&w, &facts);
    assert!(!p.ok);
    let c = codes(&p.problems);
    for expected in ["contact_duplicate", "default_company_missing", "contact_not_in_company", "company_archived", "login_taken"] {
        assert!(c.contains(&expected), "{expected} missing from {c:?}");
    }
    assert_eq!(p.problems.iter().find(|n| n.code == "contact_duplicate").and_then(|n| n.contact_id.clone()), Some("c0".into()));
    assert!(codes(&p.warnings).contains(&"company_without_policy"));
}

fn state(status: LinkStatus) -> LinkState {
    LinkState { status, default_company_id: nl().to_string(), company_ids: vec![nl().to_string()], review_at: 1000, reviewed_at: None, responsible_id: None }
}

#[test]
fn revoked_is_final_and_the_default_must_stay_on_the_link() {
    let input = PatchInput { status: Some(LinkStatus::Active), ..PatchInput::default() };
    let err = plan_patch(&state(LinkStatus::Revoked), &input, &[], 10).unwrap_err();
    assert_eq!(err.code(), "link_revoked");
    let input = PatchInput { default_company_id: Some(bh()), ..PatchInput::default() };
    let err = plan_patch(&state(LinkStatus::Active), &input, &[], 10).unwrap_err();
    assert_eq!(err, ApiError::invalid("default_company_id", "The default company must be one of the link's companies."));
}

#[test]
fn only_policy_relevant_changes_bump_the_version() {
    let reviewed = PatchInput { reviewed: Some(true), ..PatchInput::default() };
    let plan = plan_patch(&state(LinkStatus::Active), &reviewed, &[], 10).unwrap().unwrap();
    assert!(!plan.bumps_policy);
    assert_eq!((plan.after.review_at, plan.after.reviewed_at, plan.action), (10 + REVIEW_PERIOD_SECONDS, Some(10), "link.reviewed"));
    let disable = PatchInput { status: Some(LinkStatus::Disabled), ..PatchInput::default() };
    let plan = plan_patch(&state(LinkStatus::Active), &disable, &[], 10).unwrap().unwrap();
    assert!(plan.bumps_policy);
    assert_eq!(plan.action, "link.disabled");
    let same = PatchInput { status: Some(LinkStatus::Active), ..PatchInput::default() };
    assert_eq!(plan_patch(&state(LinkStatus::Active), &same, &[], 10).unwrap(), None);
}
