//! Access over random links, policies and objects: the verdict agrees with its chain, nothing of a
//! company off the link is ever allowed, the contact policy never widens the company policy, a
//! denial never turns into an allow, and the fast paths the gates and list filters use (the
//! effective policy, the visible scope) agree with the diagnostics' `decide`.
//! Cases come from a small xorshift generator seeded per case, so a failure names its case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use extranet::access::{
    decide, effective_policy, verdict, visible_scope, Action, CompanyFacts, CompanyStatus, ContactFacts,
    ContactState, DocumentFacts, LinkFacts, LinkRecord, LinkStatus, Object, Outcome, PipelineFacts, Refused,
    RequestFacts, UserFacts, UserStatus, Verdict,
};
use extranet::domain::policy::{CompanyPolicy, ContactPolicy, Permission, Rule};
use uuid::Uuid;

const CASES: u64 = 20_000;
const CONTACT: u128 = 0x03;
const OTHER_CONTACT: u128 = 0x04;
const COMPANIES: [u128; 5] = [0x10, 0x11, 0x12, 0x13, 0x14];
const PIPELINES: [u128; 6] = [0x20, 0x21, 0x22, 0x23, 0x24, 0x25];

/// xorshift64* (Vigna): small, deterministic, good enough to spread cases.
struct Rng(u64);

impl Rng {
    fn seeded(case: u64) -> Rng {
        Rng(case.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability num/den.
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    fn subset(&mut self, pool: &[u128]) -> Vec<Uuid> {
        pool.iter().filter(|_| self.chance(1, 2)).map(|n| Uuid::from_u128(*n)).collect()
    }
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn random_facts(rng: &mut Rng) -> LinkFacts {
    let mut companies = Vec::new();
    for n in COMPANIES {
        if rng.chance(3, 5) {
            let mut policy = CompanyPolicy::default();
            for p in Permission::ALL {
                policy.set(p, rng.chance(2, 3));
            }
            policy.allowed_pipelines = rng.subset(&PIPELINES);
            let status = if rng.chance(1, 6) { CompanyStatus::Archived } else { CompanyStatus::Active };
            companies.push(CompanyFacts { id: id(n), name: format!("Company {n:x}"), status, policy });
        }
    }
    let mut contact_policy = ContactPolicy::default();
    for p in Permission::ALL {
        contact_policy.set_rule(p, rng.pick(&[Rule::Inherit, Rule::Inherit, Rule::Allow, Rule::Deny]));
    }
    contact_policy.allowed_pipelines = if rng.chance(2, 3) { None } else { Some(rng.subset(&PIPELINES)) };
    let mut pipelines = Vec::new();
    for n in PIPELINES {
        if rng.chance(9, 10) {
            pipelines.push(PipelineFacts { id: id(n), archived: rng.chance(1, 8) });
        }
    }
    let default_company = companies.first().map_or(id(COMPANIES[0]), |c| c.id);
    LinkFacts {
        user: UserFacts {
            id: id(0x01),
            status: if rng.chance(1, 20) { UserStatus::Blocked } else { UserStatus::Active },
        },
        link: LinkRecord {
            id: id(0x02),
            status: if rng.chance(9, 10) {
                LinkStatus::Active
            } else {
                rng.pick(&[LinkStatus::Disabled, LinkStatus::Revoked])
            },
            default_company_id: default_company,
        },
        contact: ContactFacts {
            id: id(CONTACT),
            state: if rng.chance(9, 10) {
                ContactState::Active
            } else {
                rng.pick(&[ContactState::Draft, ContactState::Duplicate])
            },
        },
        companies,
        contact_policy,
        pipelines,
    }
}

/// Mostly objects of the link's companies in pipelines their policies name, so that every verdict
/// is common; sometimes anything from the pools.
fn random_object(rng: &mut Rng, facts: &LinkFacts) -> Object {
    let on_link = if facts.companies.is_empty() || rng.chance(1, 4) {
        None
    } else {
        Some(&facts.companies[rng.below(facts.companies.len() as u64) as usize])
    };
    let company = on_link.map_or_else(|| id(rng.pick(&COMPANIES)), |c| c.id);
    let named = on_link.map(|c| c.policy.allowed_pipelines.clone()).unwrap_or_default();
    let pipeline =
        if !named.is_empty() && rng.chance(2, 3) { rng.pick(&named) } else { id(rng.pick(&PIPELINES)) };
    match rng.below(4) {
        0 => Object::Company(company),
        1 => Object::Request(RequestFacts { id: id(0x99), company_id: company, pipeline_id: pipeline }),
        2 => Object::Document(DocumentFacts {
            id: id(0x98),
            company_id: company,
            contact_id: rng.pick(&[None, Some(id(CONTACT)), Some(id(OTHER_CONTACT))]),
            published: rng.chance(3, 4),
        }),
        _ => Object::Pipeline { company_id: company, pipeline_id: pipeline },
    }
}

/// An action that applies to the object most of the time, and sometimes one that does not.
fn random_action(rng: &mut Rng, object: &Object) -> Action {
    if rng.chance(1, 10) {
        return rng.pick(&Action::ALL);
    }
    let fitting: Vec<Action> = Action::ALL.into_iter().filter(|a| a.applies_to(object)).collect();
    rng.pick(&fitting)
}

/// Whether the link has anything at all at the company, by the rules as DESIGN.md states them.
fn in_scope(facts: &LinkFacts, company: Uuid) -> bool {
    facts.user.status == UserStatus::Active
        && facts.link.status == LinkStatus::Active
        && facts.contact.state == ContactState::Active
        && facts.company(company).is_some_and(|c| c.status == CompanyStatus::Active)
}

fn for_each_case(check: impl Fn(u64, &mut Rng)) {
    for case in 0..CASES {
        let mut rng = Rng::seeded(case);
        check(case, &mut rng);
    }
}

#[test]
fn the_verdict_is_allow_exactly_when_no_step_of_its_chain_fails() {
    for_each_case(|case, rng| {
        let facts = random_facts(rng);
        let object = random_object(rng, &facts);
        let action = random_action(rng, &object);
        let decision = decide(&facts, action, &object);
        let any_fail = decision.chain.iter().any(|s| s.outcome == Outcome::Fail);
        assert_eq!(decision.verdict == Verdict::Allow, !any_fail, "case {case}: {decision:?}");
        assert!(decision.chain.windows(2).all(|w| w[0].level <= w[1].level), "case {case}: chain order");
        assert!(decision.chain.len() >= 4, "case {case}: the whole-link checks are always shown");
        match decision.verdict {
            Verdict::PolicyDenied(Refused::Permission(p)) => {
                assert_eq!(action.permission(), Some(p), "case {case}")
            }
            Verdict::PolicyDenied(Refused::Pipeline) => {
                assert_eq!(action, Action::CreateRequest, "case {case}")
            }
            _ => {}
        }
        let body = serde_json::to_value(&decision).unwrap();
        assert_eq!(body["verdict"], decision.verdict.as_str(), "case {case}");
        assert_eq!(body["chain"].as_array().unwrap().len(), decision.chain.len(), "case {case}");
    });
}

#[test]
fn nothing_is_allowed_outside_the_link_or_when_the_link_is_denied_as_a_whole() {
    for_each_case(|case, rng| {
        let facts = random_facts(rng);
        let object = random_object(rng, &facts);
        let action = random_action(rng, &object);
        if !in_scope(&facts, object.company_id()) {
            assert_eq!(decide(&facts, action, &object).verdict, Verdict::NotVisible, "case {case}");
            let effective = effective_policy(&facts, object.company_id());
            assert!(effective.is_denied_as_a_whole(), "case {case}");
            assert!(Permission::ALL.iter().all(|p| !effective.allows(*p)), "case {case}");
            assert!(effective.policy.allowed_pipelines.is_empty(), "case {case}");
        }
    });
}

#[test]
fn the_effective_policy_is_never_wider_than_the_company_policy() {
    for_each_case(|case, rng| {
        let facts = random_facts(rng);
        for n in COMPANIES {
            let company = id(n);
            let effective = effective_policy(&facts, company);
            assert_eq!(effective.is_denied_as_a_whole(), !in_scope(&facts, company), "case {case}");
            let Some(company_facts) = facts.company(company) else { continue };
            let (company_policy, contact) = (&company_facts.policy, &facts.contact_policy);
            for p in Permission::ALL {
                if effective.allows(p) {
                    assert!(company_policy.allows(p), "case {case}: {p} wider than the company");
                    assert_ne!(contact.rule(p), Rule::Deny, "case {case}: {p} despite a contact deny");
                    assert!(effective.denial(p).is_none(), "case {case}: {p} allowed with a denial");
                } else {
                    assert!(effective.denial(p).is_some(), "case {case}: {p} denied without a reason");
                }
                // And exactly as wide as the rules allow, not narrower.
                let expected = in_scope(&facts, company)
                    && company_policy.allows(p)
                    && contact.rule(p) != Rule::Deny
                    && (p != Permission::SendRequestChat || effective.allows(Permission::ReadRequestChat));
                assert_eq!(effective.allows(p), expected, "case {case}: {p}");
            }
            if effective.allows(Permission::SendRequestChat) {
                assert!(effective.allows(Permission::ReadRequestChat), "case {case}: send without read");
            }
            let allowed = &effective.policy.allowed_pipelines;
            for (i, p) in allowed.iter().enumerate() {
                assert!(company_policy.allows_pipeline(*p), "case {case}: pipeline wider than the company");
                if let Some(list) = &contact.allowed_pipelines {
                    assert!(list.contains(p), "case {case}: pipeline wider than the contact's list");
                }
                assert!(facts.pipeline(*p).is_some_and(|f| !f.archived), "case {case}: archived or gone");
                assert!(!allowed[..i].contains(p), "case {case}: listed twice");
            }
            if in_scope(&facts, company) {
                for p in &company_policy.allowed_pipelines {
                    let expected = contact.allowed_pipelines.as_ref().is_none_or(|l| l.contains(p))
                        && facts.pipeline(*p).is_some_and(|f| !f.archived);
                    assert_eq!(allowed.contains(p), expected, "case {case}: pipeline {p}");
                    assert_eq!(
                        effective.pipeline_denial(*p).is_some(),
                        !expected,
                        "case {case}: reason for {p}"
                    );
                }
            }
        }
    });
}

/// What a gate or a list query decides from the effective policy and the visible scope (what the
/// token carries), without the explanation. It must always equal the diagnostics' verdict.
fn fast_path(facts: &LinkFacts, action: Action, object: &Object) -> Verdict {
    let scope = visible_scope(facts);
    if !action.applies_to(object) || scope.company(object.company_id()).is_none() {
        return Verdict::NotVisible;
    }
    let effective = effective_policy(facts, object.company_id());
    let visible = match object {
        Object::Company(_) => true,
        Object::Request(r) => scope.shows_request(r.company_id, r.pipeline_id),
        Object::Document(d) => scope.shows_document(d),
        Object::Pipeline { .. } if action == Action::CreateRequest => true,
        Object::Pipeline { company_id, pipeline_id } => scope.shows_request(*company_id, *pipeline_id),
    };
    if !visible {
        return Verdict::NotVisible;
    }
    if let Some(p) = action.permission() {
        if !effective.allows(p) {
            return Verdict::PolicyDenied(Refused::Permission(p));
        }
    }
    if let (Action::CreateRequest, Object::Pipeline { pipeline_id, .. }) = (action, object) {
        if !effective.allows_pipeline(*pipeline_id) {
            return Verdict::PolicyDenied(Refused::Pipeline);
        }
    }
    Verdict::Allow
}

#[test]
fn the_diagnostic_verdict_equals_what_a_gate_computes() {
    for_each_case(|case, rng| {
        let facts = random_facts(rng);
        let object = random_object(rng, &facts);
        let action = random_action(rng, &object);
        let diagnosed = decide(&facts, action, &object).verdict;
        assert_eq!(verdict(&facts, action, &object), diagnosed, "case {case}");
        assert_eq!(fast_path(&facts, action, &object), diagnosed, "case {case}: {action} on {object:?}");
    });
}

/// Takes something away: a permission, a pipeline, a status. Access may only shrink.
fn narrow(facts: &mut LinkFacts, rng: &mut Rng) {
    let p = rng.pick(&Permission::ALL);
    match rng.below(7) {
        0 => facts.contact_policy.set_rule(p, Rule::Deny),
        1 => {
            if let Some(c) = facts.companies.first_mut() {
                c.policy.set(p, false);
            }
        }
        2 => {
            let pipelines = facts.contact_policy.allowed_pipelines.take();
            let mut list = pipelines.unwrap_or_else(|| PIPELINES.iter().map(|n| id(*n)).collect());
            list.retain(|_| rng.chance(1, 2));
            facts.contact_policy.allowed_pipelines = Some(list);
        }
        3 => {
            if let Some(pipeline) = facts.pipelines.first_mut() {
                pipeline.archived = true;
            }
        }
        4 => {
            if !facts.companies.is_empty() {
                let i = rng.below(facts.companies.len() as u64) as usize;
                facts.companies.remove(i);
            }
        }
        5 => facts.link.status = LinkStatus::Disabled,
        _ => facts.user.status = UserStatus::Blocked,
    }
}

#[test]
fn deny_wins_taking_something_away_never_grants_anything() {
    for_each_case(|case, rng| {
        let facts = random_facts(rng);
        let object = random_object(rng, &facts);
        let action = random_action(rng, &object);
        let mut narrowed = facts.clone();
        narrow(&mut narrowed, rng);
        let before = decide(&facts, action, &object).verdict;
        let after = decide(&narrowed, action, &object).verdict;
        if after == Verdict::Allow {
            assert_eq!(before, Verdict::Allow, "case {case}: narrowing granted {action} on {object:?}");
        }
        // A hidden object stays hidden.
        if before == Verdict::NotVisible {
            assert_eq!(after, Verdict::NotVisible, "case {case}: narrowing revealed {object:?}");
        }
    });
}

#[test]
fn the_generator_reaches_every_verdict() {
    let mut seen = [0u32; 4];
    for case in 0..CASES {
        let mut rng = Rng::seeded(case);
        let facts = random_facts(&mut rng);
        let object = random_object(&mut rng, &facts);
        let action = random_action(&mut rng, &object);
        let slot = match decide(&facts, action, &object).verdict {
            Verdict::Allow => 0,
            Verdict::NotVisible => 1,
            Verdict::PolicyDenied(Refused::Permission(_)) => 2,
            Verdict::PolicyDenied(Refused::Pipeline) => 3,
        };
        seen[slot] += 1;
    }
    // Each outcome is common enough that the properties above are not vacuous.
    assert!(seen.iter().all(|n| u64::from(*n) > CASES / 100), "{seen:?}");
}
