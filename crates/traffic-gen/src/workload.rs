//! What one simulated request is.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use stages::{Batches, PageDice, Scenario, SignIn};

/// What a simulated user does on each request; built from a stage's
/// [`Scenario`]. A later stage's scenario adds a variant here.
#[derive(Debug, Clone)]
pub enum Workload {
    /// `GET <base>/roll?die=<die>`, the die drawn from the mix.
    Rolls { mix: DieMix },
    /// A person at the frontend's page, driving it as a browser does: load
    /// the page (`GET /`), then submit its form (`POST /roll`) again and
    /// again from the page each answer shows; load the page again after an
    /// answer without a form (an error page).
    Page {
        /// `None`: any die the page offers.
        mix: Option<DieMix>,
        /// Stage 4's "Number of rolls" and "Use async rolling".
        batches: Option<Batches>,
        /// Stage 6: each session signs in first, and out at the end.
        sign_in: Option<Accounts>,
    },
}

/// Stage 6: who the simulated people sign in as.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounts {
    /// Names and passwords, as the frontend's `DEMO_USERS` has them.
    pub accounts: Vec<(String, String)>,
    /// Share of sign-ins that mistype first (see [`SignIn`]).
    pub mistype_probability: f64,
}

impl Accounts {
    /// Parses `DEMO_USERS`' form, `name:password,name:password`.
    pub fn parse(text: &str, mistype_probability: f64) -> Option<Self> {
        let accounts: Option<Vec<(String, String)>> = text
            .split(',')
            .map(|pair| {
                let (name, password) = pair.trim().split_once(':')?;
                (!name.is_empty() && !password.is_empty())
                    .then(|| (name.to_owned(), password.to_owned()))
            })
            .collect();
        accounts
            .filter(|accounts| !accounts.is_empty())
            .map(|accounts| Self {
                accounts,
                mistype_probability,
            })
    }
}

impl From<SignIn> for Accounts {
    fn from(sign_in: SignIn) -> Self {
        Self {
            accounts: sign_in
                .accounts
                .iter()
                .map(|(name, password)| ((*name).to_owned(), (*password).to_owned()))
                .collect(),
            mistype_probability: sign_in.mistype_probability,
        }
    }
}

/// What a user has seen so far: the dice the last page offered, or `None`
/// before the first page or after one without a form; and whether the last
/// page said they are signed in (stage 6).
#[derive(Debug, Clone, Default)]
pub struct PageState {
    offered: Option<Vec<String>>,
    signed_in: bool,
}

impl PageState {
    /// Remembers what a page offered (the values of its `<option>`s) and
    /// whether it is a signed-in page (it has the sign-out form) or the
    /// sign-in page.
    pub fn saw(&mut self, status: u16, html: &str) {
        let offered: Vec<String> = html
            .split("<option value=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_owned)
            .collect();
        // A page with no die to pick is an error page: reload it next time.
        self.offered = (status < 500 && !offered.is_empty()).then_some(offered);
        if html.contains("action=\"/sign-out\"") {
            self.signed_in = true;
        } else if html.contains("action=\"/sign-in\"") {
            self.signed_in = false;
        }
    }

    /// The dice the last page offered.
    pub fn offered(&self) -> Option<&[String]> {
        self.offered.as_deref()
    }

    /// Whether the last page that said so was a signed-in page.
    pub fn signed_in(&self) -> bool {
        self.signed_in
    }
}

/// One request, ready to send: what it is and what to call it in spans and
/// in the summary.
#[derive(Debug, Clone)]
pub struct PlannedRequest {
    pub url: reqwest::Url,
    /// `Some`: a form posted to `url`; `None`: a GET.
    pub form: Option<Vec<(&'static str, String)>>,
    /// The die rolled (`die.type` on the span), empty for a page load.
    pub die: String,
    /// What the user does: `roll`, `load page`, `sign in` or `sign out`.
    pub action: &'static str,
}

impl PlannedRequest {
    /// The password this request types, if it is a sign-in.
    pub fn password(&self) -> Option<&str> {
        self.form
            .iter()
            .flatten()
            .find(|(field, _)| *field == "password")
            .map(|(_, value)| value.as_str())
    }
}

impl Workload {
    /// The workload a stage's scenario describes.
    pub fn for_scenario(scenario: Scenario) -> Self {
        let mix = |dice: &[(&'static str, u32)]| {
            DieMix::from_weights(dice.iter().map(|(die, weight)| (*die, *weight)))
        };
        match scenario {
            Scenario::RollMix { dice } => Self::Rolls { mix: mix(dice) },
            Scenario::Page {
                dice,
                batches,
                sign_in,
            } => Self::Page {
                mix: match dice {
                    PageDice::Mix(dice) => Some(mix(dice)),
                    PageDice::Offered => None,
                },
                batches,
                sign_in: sign_in.map(Accounts::from),
            },
        }
    }

    /// Replaces the die mix: the dice rolled come from it.
    pub fn with_mix(self, new_mix: DieMix) -> Self {
        match self {
            Self::Rolls { .. } => Self::Rolls { mix: new_mix },
            Self::Page {
                batches, sign_in, ..
            } => Self::Page {
                mix: Some(new_mix),
                batches,
                sign_in,
            },
        }
    }

    /// Changes stage 4's form fields; no effect on a workload without them.
    pub fn with_batches(self, async_probability: Option<f64>, max_rolls: Option<u32>) -> Self {
        match self {
            Self::Page {
                mix,
                batches: Some(batches),
                sign_in,
            } => Self::Page {
                mix,
                batches: Some(Batches {
                    async_probability: async_probability
                        .unwrap_or(batches.async_probability)
                        .clamp(0.0, 1.0),
                    max_rolls: max_rolls.unwrap_or(batches.max_rolls).max(1),
                }),
                sign_in,
            },
            other => other,
        }
    }

    /// Replaces the accounts users sign in with; no effect on a workload
    /// without sign-in.
    pub fn with_accounts(self, new_accounts: Vec<(String, String)>) -> Self {
        match self {
            Self::Page {
                mix,
                batches,
                sign_in: Some(accounts),
            } => Self::Page {
                mix,
                batches,
                sign_in: Some(Accounts {
                    accounts: new_accounts,
                    ..accounts
                }),
            },
            other => other,
        }
    }

    /// Whether the answers are pages to read (the next request depends on
    /// them).
    pub fn reads_pages(&self) -> bool {
        matches!(self, Self::Page { .. })
    }

    /// Whether each session signs in (and so needs a cookie jar of its own).
    pub fn signs_in(&self) -> bool {
        matches!(
            self,
            Self::Page {
                sign_in: Some(_),
                ..
            }
        )
    }

    /// The request that ends a signed-in session: the page's sign-out form.
    pub fn sign_out(&self, base_url: &reqwest::Url) -> PlannedRequest {
        let mut url = base_url.clone();
        url.set_query(None);
        url.set_path("/sign-out");
        PlannedRequest {
            url,
            form: Some(Vec::new()),
            die: String::new(),
            action: "sign out",
        }
    }

    /// How long one request may reasonably take: a stage 4 roll one die at
    /// a time waits for up to `max_rolls` rolls of up to a second each.
    pub fn request_timeout(&self) -> std::time::Duration {
        let rolls = match self {
            Self::Page {
                batches: Some(batches),
                ..
            } => batches.max_rolls,
            _ => 1,
        };
        std::time::Duration::from_secs(4 + u64::from(rolls))
    }

    /// The next request against `base_url`, for a user who has seen `page`.
    pub fn plan(
        &self,
        base_url: &reqwest::Url,
        page: &PageState,
        rng: &mut impl Rng,
    ) -> PlannedRequest {
        let mut url = base_url.clone();
        url.set_query(None);
        match self {
            Self::Rolls { mix } => {
                let die = mix.pick(rng).to_owned();
                url.set_path("/roll");
                url.query_pairs_mut().append_pair("die", &die);
                PlannedRequest {
                    url,
                    form: None,
                    die,
                    action: "roll",
                }
            }
            Self::Page {
                sign_in: Some(accounts),
                ..
            } if !page.signed_in() => {
                url.set_path("/sign-in");
                let (user, password) =
                    if rng.random_bool(accounts.mistype_probability.clamp(0.0, 1.0)) {
                        // An unknown name: failures count against a name, and
                        // the traffic must never lock out its own accounts.
                        let typo: u64 = rng.random();
                        (
                            format!("visitor-{}", typo % 10_000),
                            format!("mistyped-{typo:016x}"),
                        )
                    } else if accounts.accounts.is_empty() {
                        ("nobody".to_owned(), "no account configured".to_owned())
                    } else {
                        accounts.accounts[rng.random_range(0..accounts.accounts.len())].clone()
                    };
                PlannedRequest {
                    url,
                    form: Some(vec![("user", user), ("password", password)]),
                    die: String::new(),
                    action: "sign in",
                }
            }
            Self::Page { mix, batches, .. } => {
                let Some(offered) = page.offered() else {
                    url.set_path("/");
                    return PlannedRequest {
                        url,
                        form: None,
                        die: String::new(),
                        action: "load page",
                    };
                };
                let die = match mix {
                    Some(mix) => mix.pick(rng).to_owned(),
                    None => offered[rng.random_range(0..offered.len())].clone(),
                };
                let mut form = vec![("die", die.clone())];
                if let Some(batches) = batches {
                    let times = rng.random_range(1..=batches.max_rolls.max(1));
                    form.push(("times", times.to_string()));
                    // An unticked box is absent from the form, as a browser
                    // sends it.
                    if rng.random_bool(batches.async_probability.clamp(0.0, 1.0)) {
                        form.push(("async", "on".to_owned()));
                    }
                }
                url.set_path("/roll");
                PlannedRequest {
                    url,
                    form: Some(form),
                    die,
                    action: "roll",
                }
            }
        }
    }
}

/// Dice and their weights: `fair=1,risky=1` rolls each half of the time.
#[derive(Debug, Clone, PartialEq)]
pub struct DieMix {
    dice: Vec<(String, u32)>,
    total: u32,
}

/// A `--mix` that cannot be used; says what is expected.
#[derive(Debug, thiserror::Error)]
#[error("invalid die mix {0:?}: expected die=weight pairs such as fair=3,risky=1, weights > 0")]
pub struct DieMixError(String);

impl DieMix {
    fn from_weights<'a>(weights: impl IntoIterator<Item = (&'a str, u32)>) -> Self {
        let dice: Vec<(String, u32)> = weights
            .into_iter()
            .map(|(die, weight)| (die.to_owned(), weight))
            .collect();
        let total = dice.iter().map(|(_, weight)| weight).sum();
        Self { dice, total }
    }

    /// A die, drawn with probability weight / total.
    pub fn pick(&self, rng: &mut impl Rng) -> &str {
        let mut ticket = rng.random_range(0..self.total.max(1));
        for (die, weight) in &self.dice {
            if ticket < *weight {
                return die;
            }
            ticket -= weight;
        }
        // Unreachable for a parsed mix (total > 0); the first die otherwise.
        self.dice.first().map(|(die, _)| die.as_str()).unwrap_or("")
    }
}

impl FromStr for DieMix {
    type Err = DieMixError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || DieMixError(text.to_owned());
        let mut weights = Vec::new();
        for pair in text
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let (die, weight) = pair.split_once('=').ok_or_else(invalid)?;
            let weight: u32 = weight.trim().parse().map_err(|_| invalid())?;
            if die.trim().is_empty() || weight == 0 {
                return Err(invalid());
            }
            weights.push((die.trim(), weight));
        }
        if weights.is_empty() {
            return Err(invalid());
        }
        Ok(Self::from_weights(weights))
    }
}

impl fmt::Display for DieMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs: Vec<String> = self
            .dice
            .iter()
            .map(|(die, weight)| format!("{die}={weight}"))
            .collect();
        f.write_str(&pairs.join(","))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn a_mix_parses_and_prints_back() {
        let mix: DieMix = "fair=3, risky=1".parse().unwrap();
        assert_eq!(mix.to_string(), "fair=3,risky=1");
    }

    #[test]
    fn a_bad_mix_says_what_is_expected() {
        for text in ["", "fair", "fair=x", "fair=0", "=2"] {
            let error = text.parse::<DieMix>().unwrap_err();
            assert!(error.to_string().contains("die=weight"), "{error}");
        }
    }

    #[test]
    fn dice_are_drawn_by_weight() {
        let mix: DieMix = "fair=3,risky=1".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let fair = (0..4000).filter(|_| mix.pick(&mut rng) == "fair").count();
        assert!((2800..3200).contains(&fair), "{fair} of 4000");
    }

    #[test]
    fn stage_one_rolls_fair_and_risky_on_roll() {
        let workload = Workload::for_scenario(stages::stage(1).unwrap().scenario);
        let base: reqwest::Url = "http://127.0.0.1:8100".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let page = PageState::default();
        let planned: Vec<PlannedRequest> = (0..50)
            .map(|_| workload.plan(&base, &page, &mut rng))
            .collect();
        assert!(
            planned
                .iter()
                .all(|p| p.url.path() == "/roll" && p.form.is_none())
        );
        for die in ["fair", "risky"] {
            let request = planned.iter().find(|p| p.die == die).unwrap();
            assert_eq!(request.url.query(), Some(format!("die={die}").as_str()));
        }
    }
}

#[cfg(test)]
mod page_tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const PAGE: &str = r#"<select id="die" name="die">
      <option value="fair" selected>fair</option>
      <option value="d20">d20</option>
    </select>"#;

    #[test]
    fn a_user_loads_the_page_first_then_rolls_what_it_offers() {
        let workload = Workload::for_scenario(stages::stage(3).unwrap().scenario);
        let base: reqwest::Url = "http://127.0.0.1:8301".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let mut page = PageState::default();
        let first = workload.plan(&base, &page, &mut rng);
        assert_eq!((first.url.path(), first.action), ("/", "load page"));
        assert!(first.form.is_none());

        page.saw(200, PAGE);
        let dice: Vec<String> = (0..40)
            .map(|_| {
                let roll = workload.plan(&base, &page, &mut rng);
                assert_eq!(roll.url.path(), "/roll");
                let form = roll.form.unwrap();
                assert_eq!(form[0].0, "die");
                form[0].1.clone()
            })
            .collect();
        assert!(dice.iter().any(|d| d == "d20") && dice.iter().any(|d| d == "fair"));

        // An error page has no form: the user reloads the page.
        page.saw(503, "<p>The die-service is not answering</p>");
        assert_eq!(workload.plan(&base, &page, &mut rng).url.path(), "/");
    }

    #[test]
    fn stage_four_fills_in_the_number_of_rolls_and_ticks_async_by_share() {
        let workload = Workload::for_scenario(stages::stage(4).unwrap().scenario)
            .with_batches(Some(0.25), Some(3));
        let base: reqwest::Url = "http://127.0.0.1:8401".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(4);
        let mut page = PageState::default();
        page.saw(200, PAGE);
        let forms: Vec<Vec<(&str, String)>> = (0..400)
            .map(|_| workload.plan(&base, &page, &mut rng).form.unwrap())
            .collect();
        let ticked = forms
            .iter()
            .filter(|form| form.iter().any(|(k, v)| *k == "async" && v == "on"))
            .count();
        assert!((70..130).contains(&ticked), "{ticked} of 400");
        for form in &forms {
            let times: u32 = form
                .iter()
                .find(|(k, _)| *k == "times")
                .unwrap()
                .1
                .parse()
                .unwrap();
            assert!((1..=3).contains(&times));
        }
    }
}

#[cfg(test)]
mod sign_in_tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const SIGNED_IN: &str = r#"<form method="post" action="/sign-out"><button>Sign out</button></form>
      <form method="post" action="/roll"><select name="die"><option value="fair">fair</option></select></form>"#;
    const SIGN_IN_PAGE: &str =
        r#"<form method="post" action="/sign-in"><input name="user"></form>"#;

    #[test]
    fn a_stage_6_user_signs_in_first_then_rolls_then_signs_in_again_when_sent_back() {
        let workload = Workload::for_scenario(stages::stage(6).unwrap().scenario);
        assert!(workload.signs_in());
        let base: reqwest::Url = "http://127.0.0.1:8601".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(6);
        let mut page = PageState::default();

        let first = workload.plan(&base, &page, &mut rng);
        assert_eq!((first.url.path(), first.action), ("/sign-in", "sign in"));
        let form = first.form.as_ref().unwrap();
        assert_eq!(form[0].0, "user");
        assert!(first.password().is_some());

        page.saw(200, SIGNED_IN);
        assert!(page.signed_in());
        let roll = workload.plan(&base, &page, &mut rng);
        assert_eq!((roll.url.path(), roll.action), ("/roll", "roll"));
        assert_eq!(roll.password(), None);

        // The session expired: the frontend shows the sign-in page.
        page.saw(200, SIGN_IN_PAGE);
        assert!(!page.signed_in());
        assert_eq!(workload.plan(&base, &page, &mut rng).action, "sign in");

        let out = workload.sign_out(&base);
        assert_eq!((out.url.path(), out.action), ("/sign-out", "sign out"));
    }

    #[test]
    fn mistyped_sign_ins_use_unknown_names_so_the_accounts_are_never_locked_out() {
        let workload = Workload::for_scenario(stages::stage(6).unwrap().scenario);
        let base: reqwest::Url = "http://127.0.0.1:8601".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(60);
        let page = PageState::default();
        let mut mistyped = 0;
        for _ in 0..1000 {
            let planned = workload.plan(&base, &page, &mut rng);
            let form = planned.form.unwrap();
            let (user, password) = (&form[0].1, &form[1].1);
            match stages::DEMO_ACCOUNTS.iter().find(|(name, _)| name == user) {
                Some((_, right)) => assert_eq!(password, right),
                None => {
                    assert!(user.starts_with("visitor-"), "{user}");
                    mistyped += 1;
                }
            }
        }
        // 10% of 1000, give or take.
        assert!((50..150).contains(&mistyped), "{mistyped}");
    }

    #[test]
    fn accounts_parse_from_demo_users() {
        let accounts = Accounts::parse("ann:pw1, ben:p:w2", 0.0).unwrap();
        assert_eq!(
            accounts.accounts,
            [("ann".into(), "pw1".into()), ("ben".into(), "p:w2".into())]
        );
        for bad in ["", "ann", "ann:", ":pw"] {
            assert!(Accounts::parse(bad, 0.0).is_none(), "{bad}");
        }
    }
}
