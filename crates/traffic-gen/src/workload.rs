//! What one simulated request is.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use stages::Scenario;

/// What a simulated user does on each request; built from a stage's
/// [`Scenario`]. A later stage's scenario adds a variant here.
#[derive(Debug, Clone)]
pub enum Workload {
    /// `GET <base>/roll?die=<die>`, the die drawn from the mix.
    Rolls { mix: DieMix },
}

/// One request, ready to send: its URL and what to call it in spans and in
/// the summary.
#[derive(Debug, Clone)]
pub struct PlannedRequest {
    pub url: reqwest::Url,
    /// The die rolled (`die.type` on the span).
    pub die: String,
}

impl Workload {
    /// The workload a stage's scenario describes.
    pub fn for_scenario(scenario: Scenario) -> Self {
        match scenario {
            Scenario::RollMix { dice } => Self::Rolls {
                mix: DieMix::from_weights(dice.iter().map(|(die, weight)| (*die, *weight))),
            },
        }
    }

    /// Replaces the die mix of a workload that rolls dice.
    pub fn with_mix(self, new_mix: DieMix) -> Self {
        match self {
            Self::Rolls { .. } => Self::Rolls { mix: new_mix },
        }
    }

    /// The next request against `base_url`.
    pub fn plan(&self, base_url: &reqwest::Url, rng: &mut impl Rng) -> PlannedRequest {
        match self {
            Self::Rolls { mix } => {
                let die = mix.pick(rng).to_owned();
                let mut url = base_url.clone();
                url.set_path("/roll");
                url.query_pairs_mut().clear().append_pair("die", &die);
                PlannedRequest { url, die }
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
        let planned: Vec<PlannedRequest> =
            (0..50).map(|_| workload.plan(&base, &mut rng)).collect();
        assert!(planned.iter().all(|p| p.url.path() == "/roll"));
        for die in ["fair", "risky"] {
            let request = planned.iter().find(|p| p.die == die).unwrap();
            assert_eq!(request.url.query(), Some(format!("die={die}").as_str()));
        }
    }
}
