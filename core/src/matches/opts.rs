//! `-m hbh` and `-m dst`: the IPv6 Hop-by-Hop and Destination Options extension headers (`libip6t_hbh`,
//! `libip6t_dst`, the kernel's `ip6t_hbh.c`, which serves both); `ip6tables` only.

use super::rt::{ipv6_only, number};
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The most options one rule can list (`IP6T_OPTS_OPTSNR`).
const MAX_OPTIONS: usize = 16;

/// What `-m hbh` or `-m dst` asks of its header.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OptionsHeader {
    /// `[!] --hbh-len N` / `--dst-len N`: the header's length field.
    pub len: Option<Negatable<u32>>,
    /// `--hbh-opts TYPE[:LENGTH],...`: the options the header must carry, in order.
    pub opts: Vec<(u8, Option<u8>)>,
}

/// `-m hbh`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hbh(pub OptionsHeader);

/// `-m dst`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dst(pub OptionsHeader);

/// Reads `TYPE[:LENGTH],...` as `parse_options` in `libip6t_hbh` does: each number as `strtoul` reads it
/// (C notation, a `-` wraps), kept to its low byte (`256` is option 0, recorded), at most 16 of them.
fn parse_list(text: &str) -> Result<Vec<(u8, Option<u8>)>, String> {
    let byte = |s: &str| -> Option<u8> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let n = crate::ruleset::addr::parse_uint(digits)?;
        Some((if neg { n.wrapping_neg() } else { n } & 0xFF) as u8)
    };
    let list = text
        .split(',')
        .map(|item| {
            let (t, l) = match item.split_once(':') {
                Some((t, l)) => (t, Some(l)),
                None => (item, None),
            };
            let t = byte(t).ok_or_else(|| format!("`{item}` does not start with an option type (a number)"))?;
            let l = match l {
                Some(l) => Some(byte(l).ok_or_else(|| format!("`{l}` is not an option length (a number)"))?),
                None => None,
            };
            Ok((t, l))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if list.len() > MAX_OPTIONS {
        return Err(format!("at most {MAX_OPTIONS} options can be listed"));
    }
    Ok(list)
}

fn build_header(prefix: &str, opts: &[Opt<'_>], ctx: &ExtCtx<'_>) -> Result<OptionsHeader, Diagnostic> {
    ipv6_only(ctx, prefix)?;
    let len = number(find(opts, &format!("{prefix}-len"))?)?;
    let listed = match find(opts, &format!("{prefix}-opts"))? {
        Some(o) => {
            o.no_negation()?;
            o.parse_arg(parse_list)?
        }
        None => Vec::new(),
    };
    Ok(OptionsHeader { len, opts: listed })
}

fn save_header(prefix: &str, h: &OptionsHeader, out: &mut String) {
    if let Some(l) = &h.len {
        save_opt_value(out, l.negated, &format!("{prefix}-len"), l.value);
    }
    if !h.opts.is_empty() {
        let items: Vec<String> = h
            .opts
            .iter()
            .map(|(t, l)| match l {
                Some(l) => format!("{t}:{l}"),
                None => t.to_string(),
            })
            .collect();
        out.push_str(&format!(" --{prefix}-opts {}", items.join(",")));
    }
}

/// `hbh_mt6`: a packet without the header fails, `!` or not; chainwalk's packets carry no extension
/// headers.
fn eval_header(name: &str) -> Outcome {
    Outcome::no(format!(
        "the packet has no {name} extension header (chainwalk's packets carry none), so the match fails, `!` or not"
    ))
}

/// The `Extension` and `Evaluate` of a module over [`OptionsHeader`]: its options' prefix and the header's
/// name in explanations.
macro_rules! options_header {
    ($ty:ident, $prefix:literal, $len:literal, $opts:literal, $header:literal) => {
        impl Extension for $ty {
            const OPTIONS: &'static [OptSpec] = &[opt($len, Args::One), opt($opts, Args::One)];

            fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<$ty, Diagnostic> {
                build_header($prefix, opts, ctx).map($ty)
            }

            fn save(&self, out: &mut String) {
                save_header($prefix, &self.0, out);
            }
        }

        impl Evaluate for $ty {
            fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
                eval_header($header)
            }
        }
    };
}

options_header!(Hbh, "hbh", "hbh-len", "hbh-opts", "Hop-by-Hop Options");
options_header!(Dst, "dst", "dst-len", "dst-opts", "Destination Options");

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family;

    #[test]
    fn reads_and_prints_as_ip6tables() {
        let s = |r: &str| saved(Family::Ipv6, "filter", r);
        assert_eq!(s("-A INPUT -m hbh --hbh-opts 1:2,5 -j DROP"), "-A INPUT -m hbh --hbh-opts 1:2,5 -j DROP");
        assert_eq!(s("-A INPUT -m dst ! --dst-len 8 -j DROP"), "-A INPUT -m dst ! --dst-len 8 -j DROP");
        assert_eq!(s("-A INPUT -m hbh -j DROP"), "-A INPUT -m hbh -j DROP");
        assert!(error(Family::Ipv6, "filter", "-A INPUT -m hbh --hbh-len 8:16").1.contains("8:16"));
        assert_eq!(s("-A INPUT -m hbh --hbh-opts 256,1:257"), "-A INPUT -m hbh --hbh-opts 0,1:1");
        assert!(error(Family::Ipv6, "filter", "-A INPUT -m hbh --hbh-opts 1:2:3").1.contains("2:3"));
        assert!(error(Family::Ipv4, "filter", "-A INPUT -m hbh").1.contains("IPv6"));
    }
}
