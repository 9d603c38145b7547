//! What one simulated request is.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use stages::{Batches, PageDice, Scenario};

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
    },
}

/// What a user has seen so far: the dice the last page offered, or `None`
/// before the first page or after one without a form.
#[derive(Debug, Clone, Default)]
pub struct PageState {
    offered: Option<Vec<String>>,
}

impl PageState {
    /// Remembers what a page offered: the values of its `<option>`s.
    pub fn saw(&mut self, status: u16, html: &str) {
        let offered: Vec<String> = html
            .split("<option value=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_owned)
            .collect();
        // A page with no die to pick is an error page: reload it next time.
        self.offered = (status < 500 && !offered.is_empty()).then_some(offered);
    }

    /// The dice the last page offered.
    pub fn offered(&self) -> Option<&[String]> {
        self.offered.as_deref()
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
    /// What the user does: `roll`, or `load page`.
    pub action: &'static str,
}

impl Workload {
    /// The workload a stage's scenario describes.
    pub fn for_scenario(scenario: Scenario) -> Self {
        let mix = |dice: &[(&'static str, u32)]| {
            DieMix::from_weights(dice.iter().map(|(die, weight)| (*die, *weight)))
        };
        match scenario {
            Scenario::RollMix { dice } => Self::Rolls { mix: mix(dice) },
            Scenario::Page { dice, batches } => Self::Page {
                mix: match dice {
                    PageDice::Mix(dice) => Some(mix(dice)),
                    PageDice::Offered => None,
                },
                batches,
            },
        }
    }

    /// Replaces the die mix: the dice rolled come from it.
    pub fn with_mix(self, new_mix: DieMix) -> Self {
        match self {
            Self::Rolls { .. } => Self::Rolls { mix: new_mix },
            Self::Page { batches, .. } => Self::Page {
                mix: Some(new_mix),
                batches,
            },
        }
    }

    /// Changes stage 4's form fields; no effect on a workload without them.
    pub fn with_batches(self, async_probability: Option<f64>, max_rolls: Option<u32>) -> Self {
        match self {
            Self::Page {
                mix,
                batches: Some(batches),
            } => Self::Page {
                mix,
                batches: Some(Batches {
                    async_probability: async_probability
                        .unwrap_or(batches.async_probability)
                        .clamp(0.0, 1.0),
                    max_rolls: max_rolls.unwrap_or(batches.max_rolls).max(1),
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
            Self::Page { mix, batches } => {
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
