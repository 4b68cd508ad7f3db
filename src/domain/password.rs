//! New passwords: the password policy (part of the security settings) and the check every new
//! password passes: length, optional character classes, the common-password blocklist, and not
//! being the user's own login or email.

use serde::{Deserialize, Serialize};

/// Longer passwords are refused so one request cannot make argon2 chew on megabytes.
pub const MAX_PASSWORD_LENGTH: usize = 256;

/// The password rules of the security settings. Character classes are off by default, as NIST
/// 800-63B and ASVS 5 advise (they push people to `Password1!`); length and the blocklist do the work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    #[serde(deserialize_with = "crate::domain::whole_number::u32")]
    pub min_length: u32,
    pub require_lower: bool,
    pub require_upper: bool,
    pub require_digit: bool,
    pub require_special: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            require_lower: false,
            require_upper: false,
            require_digit: false,
            require_special: false,
        }
    }
}

/// The rule a password failed; [`PasswordRule::code`] is the stable `rule` of a 400 `weak_password`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    MinLength,
    MaxLength,
    RequireLower,
    RequireUpper,
    RequireDigit,
    RequireSpecial,
    CommonPassword,
    CommonPasswordVariant,
    Sequence,
    ContainsLogin,
    ContainsName,
}

impl PasswordRule {
    pub fn code(self) -> &'static str {
        match self {
            PasswordRule::MinLength => "min_length",
            PasswordRule::MaxLength => "max_length",
            PasswordRule::RequireLower => "require_lower",
            PasswordRule::RequireUpper => "require_upper",
            PasswordRule::RequireDigit => "require_digit",
            PasswordRule::RequireSpecial => "require_special",
            PasswordRule::CommonPassword => "common_password",
            PasswordRule::CommonPasswordVariant => "common_password_variant",
            PasswordRule::Sequence => "sequence",
            PasswordRule::ContainsLogin => "contains_login",
            PasswordRule::ContainsName => "contains_name",
        }
    }
}

/// A refused password: the rule it failed and a message the user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakPassword {
    pub rule: PasswordRule,
    pub message: String,
}

impl WeakPassword {
    fn new(rule: PasswordRule, message: impl Into<String>) -> Self {
        WeakPassword { rule, message: message.into() }
    }
}

impl std::fmt::Display for WeakPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.rule.code())
    }
}

impl std::error::Error for WeakPassword {}

/// A new password that passed the policy. The text is kept exactly as typed (no trimming, no
/// case change): it is what gets hashed. Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Who the password is for: what it must not contain (their login and email, their names, the
/// names of their companies).
#[derive(Debug, Clone, Default)]
pub struct Identity<'a> {
    pub login: &'a str,
    pub email: Option<&'a str>,
    /// The user's first and last names and their companies' names.
    pub names: Vec<&'a str>,
}

impl Password {
    /// [`Password::check_for`] with only a login and an email known.
    pub fn check(candidate: &str, policy: &PasswordPolicy, login: &str, email: Option<&str>, blocklist: &Blocklist) -> Result<Password, WeakPassword> {
        Password::check_for(candidate, policy, &Identity { login, email, names: Vec::new() }, blocklist)
    }

    /// Checks `candidate` against `policy` and who it is for. The first failed rule is reported, in
    /// this order: length, the blocklist (as listed, then with digits or symbols around a listed
    /// word or simple substitutions such as `p@ssw0rd`), keyboard and repeated sequences, the
    /// login or email, the user's and their companies' names, then character classes (a common
    /// password is refused as common even when it also lacks a digit).
    pub fn check_for(candidate: &str, policy: &PasswordPolicy, identity: &Identity<'_>, blocklist: &Blocklist) -> Result<Password, WeakPassword> {
        let (login, email) = (identity.login, identity.email);
        let length = candidate.chars().count();
        let min = usize::try_from(policy.min_length).unwrap_or(usize::MAX);
        if length < min {
            return Err(WeakPassword::new(
                PasswordRule::MinLength,
                format!("The password must be at least {min} characters long."),
            ));
        }
        if length > MAX_PASSWORD_LENGTH {
            return Err(WeakPassword::new(
                PasswordRule::MaxLength,
                format!("The password must be at most {MAX_PASSWORD_LENGTH} characters long."),
            ));
        }
        if blocklist.contains(candidate) {
            return Err(WeakPassword::new(
                PasswordRule::CommonPassword,
                "This password is one of the most common ones: choose another.",
            ));
        }
        if is_common_variant(candidate, blocklist) {
            return Err(WeakPassword::new(
                PasswordRule::CommonPasswordVariant,
                "This password is a common one with digits, symbols or look-alike letters added: choose another.",
            ));
        }
        if is_sequence(candidate) {
            return Err(WeakPassword::new(
                PasswordRule::Sequence,
                "This password is a keyboard or repeated sequence (like qwerty, abcabc or 123456): choose another.",
            ));
        }
        if contains_identity(candidate, login, email) {
            return Err(WeakPassword::new(
                PasswordRule::ContainsLogin,
                "The password must not contain your login or email.",
            ));
        }
        if identity.names.iter().any(|name| contains_word(candidate, name)) {
            return Err(WeakPassword::new(
                PasswordRule::ContainsName,
                "The password must not contain your name or your company's name.",
            ));
        }
        let classes = [
            CharClass {
                required: policy.require_lower,
                test: char::is_lowercase,
                rule: PasswordRule::RequireLower,
                what: "a lowercase letter",
            },
            CharClass {
                required: policy.require_upper,
                test: char::is_uppercase,
                rule: PasswordRule::RequireUpper,
                what: "an uppercase letter",
            },
            CharClass {
                required: policy.require_digit,
                test: char::is_numeric,
                rule: PasswordRule::RequireDigit,
                what: "a digit",
            },
            CharClass {
                required: policy.require_special,
                test: is_special,
                rule: PasswordRule::RequireSpecial,
                what: "a symbol or space",
            },
        ];
        for class in classes {
            if class.required && !candidate.chars().any(class.test) {
                return Err(WeakPassword::new(class.rule, format!("The password must contain {}.", class.what)));
            }
        }
        Ok(Password(candidate.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

struct CharClass {
    required: bool,
    test: fn(char) -> bool,
    rule: PasswordRule,
    what: &'static str,
}

/// Anything that is neither a letter nor a digit counts, space included (OWASP's definition).
fn is_special(c: char) -> bool {
    !c.is_alphanumeric()
}

/// Identities shorter than 4 characters only count as an exact match: a 3-letter login would
/// otherwise forbid every password that happens to contain those letters.
fn contains_identity(candidate: &str, login: &str, email: Option<&str>) -> bool {
    let candidate = candidate.to_lowercase();
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    let local_part = email.and_then(|e| e.split_once('@')).map(|(local, _)| local);
    [Some(login.trim()), email, local_part].into_iter().flatten().any(|identity| {
        let identity = identity.to_lowercase();
        !identity.is_empty()
            && (candidate == identity || (identity.chars().count() >= 4 && candidate.contains(&identity)))
    })
}

/// Whether `name` (4 characters or more, or the whole password) appears in `candidate`, ignoring
/// case: a name is the first thing a guesser tries.
fn contains_word(candidate: &str, name: &str) -> bool {
    let name = name.trim().to_lowercase();
    let candidate = candidate.to_lowercase();
    !name.is_empty() && (candidate == name || (name.chars().count() >= 4 && candidate.contains(&name)))
}

/// The look-alike substitutions guessers try first, undone.
fn unleet(c: char) -> char {
    match c {
        '@' | '4' => 'a',
        '8' => 'b',
        '(' | '<' => 'c',
        '3' => 'e',
        '6' | '9' => 'g',
        '!' | '1' | '|' => 'i',
        '0' => 'o',
        '$' | '5' => 's',
        '7' | '+' => 't',
        '2' => 'z',
        other => other,
    }
}

/// A listed password hidden by what people add to one: digits or symbols before or after it
/// (`password123456`, `!!dragon2026`), look-alike substitutions (`p@ssw0rd`), or both.
fn is_common_variant(candidate: &str, blocklist: &Blocklist) -> bool {
    let lower = candidate.to_lowercase();
    let unleeted: String = lower.chars().map(unleet).collect();
    let stripped = lower.trim_matches(|c: char| !c.is_alphabetic() && !matches!(c, '@' | '$' | '(' | '<' | '+'));
    let stripped_then_unleeted: String = stripped.chars().map(unleet).collect();
    let cores = [lower.trim_matches(|c: char| !c.is_alphabetic()).to_owned(), unleeted.trim_matches(|c: char| !c.is_alphabetic()).to_owned(), stripped_then_unleeted];
    cores.iter().any(|core| core.chars().count() >= 4 && *core != lower && blocklist.contains(core))
}

/// Rows and columns of common keyboards and the alphabet: a password made only of runs of 3 or
/// more along them (forwards or backwards) is a walk on the keyboard, not a secret.
const SEQUENCES: [&str; 14] = [
    "1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop", "yxcvbnm", "azertyuiop", "qsdfghjklm", "wxcvbn",
    "abcdefghijklmnopqrstuvwxyz", "1qaz", "2wsx", "3edc", "4rfv",
];
const COLUMNS: [&str; 6] = ["5tgb", "6yhn", "7ujm", "8ik,", "9ol.", "0p;/"];

/// A keyboard walk, an alphabet or digit run, or a repeated short unit (`aaaa…`, `abcabc…`),
/// ignoring case, spaces and separators.
fn is_sequence(candidate: &str) -> bool {
    let s: Vec<char> = candidate.to_lowercase().chars().filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.')).collect();
    if s.len() < 4 {
        return false;
    }
    // A unit of up to 4 characters, repeated.
    if (1..=4).any(|unit| s.len() % unit == 0 && s.len() / unit >= 3 && s.chunks(unit).all(|chunk| chunk == &s[..unit])) {
        return true;
    }
    let runs: Vec<Vec<char>> = SEQUENCES.iter().chain(COLUMNS.iter()).flat_map(|row| {
        let forward: Vec<char> = row.chars().collect();
        let backward: Vec<char> = forward.iter().rev().copied().collect();
        [forward, backward]
    }).collect();
    // Cover the whole password with runs of 3 or more along a row, longest first.
    let mut at = 0;
    while at < s.len() {
        let longest = runs
            .iter()
            .filter_map(|row| (0..row.len()).map(|start| row[start..].iter().zip(&s[at..]).take_while(|(a, b)| a == b).count()).max())
            .max()
            .unwrap_or(0);
        if longest < 3 {
            return false;
        }
        at += longest;
    }
    true
}

/// The common-password blocklist: lowercase, sorted and deduplicated once. Its text ships as the
/// static asset `public/common-passwords.txt` (a public list; keeping its 213 KB out of the wasm
/// module keeps the upload small), which the edge reads once per isolate; native code and tests
/// read the same file at compile time ([`Blocklist::shipped`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocklist {
    sorted: Vec<Box<str>>,
}

/// The text given as the blocklist is not one: too short to be the shipped list (a 404 page, an
/// empty or truncated file). Password checks fail closed on it rather than pass unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotABlocklist {
    pub entries: usize,
}

impl Blocklist {
    /// Fewer entries than this is not the shipped list (it holds over 10,000).
    pub const MIN_ENTRIES: usize = 1_000;

    /// Reads the list's text: one password per line, `#` comment lines and blank lines skipped.
    pub fn parse(text: &str) -> Result<Blocklist, NotABlocklist> {
        let mut sorted: Vec<Box<str>> =
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(|l| l.to_lowercase().into_boxed_str()).collect();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() < Self::MIN_ENTRIES {
            return Err(NotABlocklist { entries: sorted.len() });
        }
        Ok(Blocklist { sorted })
    }

    /// The shipped list, built into native code (servers, tests and tools; the wasm module reads
    /// the asset instead).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn shipped() -> &'static Blocklist {
        static LIST: std::sync::OnceLock<Blocklist> = std::sync::OnceLock::new();
        // The file is part of the source tree and a test asserts its size, so an empty fallback
        // can only ever be seen by a broken checkout, never by a deployed worker.
        LIST.get_or_init(|| {
            Blocklist::parse(include_str!("../../public/common-passwords.txt")).unwrap_or(Blocklist { sorted: Vec::new() })
        })
    }

    /// Whether `candidate` is on the list, ignoring case.
    pub fn contains(&self, candidate: &str) -> bool {
        let lower = candidate.to_lowercase();
        self.sorted.binary_search_by(|entry| (**entry).cmp(lower.as_str())).is_ok()
    }

    /// How many distinct passwords the list holds.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blocklist_ignores_case_comments_and_blank_lines_and_refuses_what_is_not_one() {
        let mut text = String::from("# a comment line\n\nPassWord\n");
        for n in 0..Blocklist::MIN_ENTRIES {
            text.push_str(&format!("word{n}\n"));
        }
        let list = Blocklist::parse(&text).unwrap();
        assert!(list.contains("password") && list.contains("PASSWORD") && list.contains("Word7"));
        assert!(!list.contains("# a comment line") && !list.contains(""));
        assert_eq!(list.len(), Blocklist::MIN_ENTRIES + 1);
        // A 404 page or a truncated file is not a blocklist: checks must not silently pass on it.
        assert_eq!(Blocklist::parse("<!doctype html><h1>Not found</h1>"), Err(NotABlocklist { entries: 1 }));
        assert!(Blocklist::shipped().len() > 10_000);
    }

    fn rule_of(candidate: &str) -> Option<PasswordRule> {
        let identity = Identity { login: "ecarter", email: Some("emily.carter@example.com"), names: vec!["Emily", "Carter", "Northern Light"] };
        Password::check_for(candidate, &PasswordPolicy::default(), &identity, Blocklist::shipped()).err().map(|w| w.rule)
    }

    #[test]
    fn common_words_dressed_up_are_still_common() {
        for weak in ["password123456", "123456password", "!!password2026!!", "p@ssw0rd12345", "P@$$W0RD!2026", "dragon!!!!!!2026", "iloveyou2026!!"] {
            assert_eq!(rule_of(weak), Some(PasswordRule::CommonPasswordVariant), "{weak}");
        }
    }

    #[test]
    fn keyboard_and_repeated_sequences_are_refused() {
        for weak in ["qwertyuiopasdf", "3edc4rfv5tgb", "mnbvcxzlkjhg", "abcdefghijkl", "zyxwvutsrqpo", "aaaaaaaaaaaa", "abcabcabcabc", "0987654321qwe", "asdf ghjk lqwe"] {
            assert_eq!(rule_of(weak), Some(PasswordRule::Sequence), "{weak}");
        }
    }

    #[test]
    fn names_of_the_user_and_their_company_are_refused() {
        assert_eq!(rule_of("emily in the snow 2026"), Some(PasswordRule::ContainsName));
        assert_eq!(rule_of("northern light forever"), Some(PasswordRule::ContainsName));
    }

    #[test]
    fn good_passphrases_pass_every_rule() {
        for good in ["aurora over the fjord 2026", "correct horse battery staple", "Bl4ck coffee at dawn, no sugar", "ledger winter copper 42"] {
            assert_eq!(rule_of(good), None, "{good}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let p = Password::check("a long unusual passphrase", &PasswordPolicy::default(), "emily", None, Blocklist::shipped()).unwrap();
        assert!(!format!("{p:?}").contains("passphrase"));
    }
}
