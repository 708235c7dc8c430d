//! `-j CLUSTERIP`: lets several hosts share one IPv4 address, each answering the connections a hash of the
//! source assigns to its node number (`libipt_CLUSTERIP`, the kernel's `ipt_CLUSTERIP.c`). The kernel
//! target is deprecated and missing from many current kernels (also from the one the vectors were recorded
//! on), where loading fails.

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::matches::mac::MacAddr;
use crate::ruleset::Family;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The most nodes a cluster may have (`CLUSTERIP_MAX_NODES`).
pub const MAX_NODES: u64 = 16;

/// The options of `-j CLUSTERIP`: a new cluster address's settings, or nothing for a rule that uses a
/// cluster address another rule set up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clusterip {
    /// The settings of `--new`, if given.
    pub new: Option<ClusterConfig>,
}

/// The settings `--new` gives a cluster address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterConfig {
    /// `--hashmode`: what the hash is computed from.
    pub hash_mode: HashMode,
    /// `--clustermac`: the multicast MAC address the nodes answer ARP with.
    pub mac: MacAddr,
    /// `--total-nodes`: how many nodes share the address.
    pub total_nodes: u16,
    /// `--local-node`: this host's node number (from 1).
    pub local_node: u16,
    /// `--hash-init`: the hash's seed.
    pub hash_init: u32,
}

/// What a CLUSTERIP hash covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashMode {
    /// `sourceip`.
    Sourceip,
    /// `sourceip-sourceport`.
    SourceipSourceport,
    /// `sourceip-sourceport-destport`.
    SourceipSourceportDestport,
}

impl HashMode {
    /// The mode's name as written and printed.
    pub fn name(self) -> &'static str {
        match self {
            HashMode::Sourceip => "sourceip",
            HashMode::SourceipSourceport => "sourceip-sourceport",
            HashMode::SourceipSourceportDestport => "sourceip-sourceport-destport",
        }
    }
}

impl ClusterConfig {
    /// The node (from 1) `clusterip_hashfn` picks for a packet from `src` with ports `ports`.
    pub fn node_for(&self, src: std::net::Ipv4Addr, ports: Option<(u16, u16)>) -> u32 {
        use crate::matches::cluster::jhash_words;
        let (sport, dport) = ports.map(|(s, d)| (u32::from(s), u32::from(d))).unwrap_or((0, 0));
        let ip = u32::from(src);
        let hash = match self.hash_mode {
            HashMode::Sourceip => jhash_words([ip, 0, 0], 1, self.hash_init),
            HashMode::SourceipSourceport => jhash_words([ip, sport, 0], 2, self.hash_init),
            HashMode::SourceipSourceportDestport => jhash_words([ip, sport, dport], 3, self.hash_init),
        };
        ((u64::from(hash) * u64::from(self.total_nodes)) >> 32) as u32 + 1
    }
}

fn number(o: &Opt<'_>, max: u64) -> Result<u64, Diagnostic> {
    crate::values::opt_number(o, 0, max)
}

impl Extension for Clusterip {
    const OPTIONS: &'static [OptSpec] = &[
        opt("new", Args::Zero),
        opt("hashmode", Args::One),
        opt("clustermac", Args::One),
        opt("total-nodes", Args::One),
        opt("local-node", Args::One),
        opt("hash-init", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Clusterip, Diagnostic> {
        if ctx.family == Family::Ipv6 {
            return Err(ctx.error("ip6tables has no CLUSTERIP target: it is for IPv4 only"));
        }
        refuse_negation(opts)?;
        warnings.push(Diagnostic::warning(
            ctx.span,
            "CLUSTERIP is deprecated in the kernel and missing from many current kernels, where loading the rule fails",
        ));
        let hash_mode = match find(opts, "hashmode")? {
            Some(o) => Some(match o.arg() {
                "sourceip" => HashMode::Sourceip,
                "sourceip-sourceport" => HashMode::SourceipSourceport,
                "sourceip-sourceport-destport" => HashMode::SourceipSourceportDestport,
                other => {
                    return Err(o.bad_arg(format!(
                        "`{other}` is not a hash mode (sourceip, sourceip-sourceport, sourceip-sourceport-destport)"
                    )))
                }
            }),
            None => None,
        };
        let mac = match find(opts, "clustermac")? {
            Some(o) => {
                let mac = o.parse_arg(MacAddr::parse)?;
                if mac.0[0] & 1 == 0 {
                    return Err(o.bad_arg("the cluster MAC address must be a multicast address (first byte odd)"));
                }
                Some(mac)
            }
            None => None,
        };
        let total = find(opts, "total-nodes")?.map(|o| number(o, MAX_NODES)).transpose()?;
        let local = find(opts, "local-node")?.map(|o| number(o, MAX_NODES)).transpose()?;
        let hash_init = find(opts, "hash-init")?.map(|o| number(o, u64::from(u32::MAX))).transpose()?;
        if opts.is_empty() {
            return Ok(Clusterip { new: None });
        }
        match (flag(opts, "new")?, hash_mode, mac, total, local) {
            (true, Some(hash_mode), Some(mac), Some(total), Some(local)) => Ok(Clusterip {
                new: Some(ClusterConfig {
                    hash_mode,
                    mac,
                    total_nodes: total as u16,
                    local_node: local as u16,
                    hash_init: hash_init.unwrap_or(0) as u32,
                }),
            }),
            _ => Err(ctx.error(
                "CLUSTERIP takes no options, or all of `--new`, `--hashmode`, `--clustermac`, `--total-nodes` and `--local-node`",
            )),
        }
    }

    /// The MAC address in upper-case hex; nothing for a rule without `--new`.
    fn save(&self, out: &mut String) {
        let Some(c) = &self.new else { return };
        let m = c.mac.0;
        let _ = write!(
            out,
            " --new --hashmode {} --clustermac {:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X} --total-nodes {} --local-node {} --hash-init {}",
            c.hash_mode.name(),
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            m[5],
            c.total_nodes,
            c.local_node,
            c.hash_init
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved, walk};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    // The recording machine's kernel has no CLUSTERIP, so these follow libipt_CLUSTERIP's save function.
    #[test]
    fn prints_back_as_libipt_clusterip_saves() {
        assert_eq!(
            saved(Ipv4, "filter", "-A INPUT -j CLUSTERIP --new --hashmode sourceip --clustermac 01:00:5e:00:00:20 --total-nodes 2 --local-node 1"),
            "-A INPUT -j CLUSTERIP --new --hashmode sourceip --clustermac 01:00:5E:00:00:20 --total-nodes 2 --local-node 1 --hash-init 0"
        );
        assert_eq!(
            saved(Ipv4, "mangle", "-A PREROUTING -j CLUSTERIP --new --hashmode sourceip-sourceport --clustermac 1:0:5e:0:0:2 --total-nodes 3 --local-node 2 --hash-init 7"),
            "-A PREROUTING -j CLUSTERIP --new --hashmode sourceip-sourceport --clustermac 01:00:5E:00:00:02 --total-nodes 3 --local-node 2 --hash-init 7"
        );
        assert_eq!(saved(Ipv4, "filter", "-A INPUT -j CLUSTERIP"), "-A INPUT -j CLUSTERIP");
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -j CLUSTERIP {o}"));
        assert_eq!(
            e("--new --hashmode sourceip --clustermac 00:00:5e:00:00:20 --total-nodes 2 --local-node 1"),
            (62, "the cluster MAC address must be a multicast address (first byte odd)".into())
        );
        assert_eq!(
            e("--new --hashmode bogus --clustermac 01:00:5e:00:00:20 --total-nodes 2 --local-node 1").1,
            "`bogus` is not a hash mode (sourceip, sourceip-sourceport, sourceip-sourceport-destport)"
        );
        let combination = "CLUSTERIP takes no options, or all of `--new`, `--hashmode`, `--clustermac`, `--total-nodes` and `--local-node`";
        assert_eq!(
            e("--hashmode sourceip --clustermac 01:00:5e:00:00:20 --total-nodes 2 --local-node 1").1,
            combination
        );
        assert_eq!(e("--new --hashmode sourceip --clustermac 01:00:5e:00:00:20 --total-nodes 2").1, combination);
        assert_eq!(e("--new").1, combination);
        assert_eq!(
            e("--new --hashmode sourceip --clustermac 01:00:5e:00:00:20 --total-nodes 17 --local-node 1").1,
            "`--total-nodes` takes a number from 0 to 16, not `17`"
        );
        assert_eq!(
            error(Ipv6, "filter", "-A INPUT -j CLUSTERIP"),
            (10, "ip6tables has no CLUSTERIP target: it is for IPv4 only".into())
        );
    }

    #[test]
    fn other_nodes_connections_are_dropped() {
        use crate::trace::FateVerdict;
        let rules = |local: u32| {
            format!("*filter\n-A INPUT -d 192.0.2.2 -j CLUSTERIP --new --hashmode sourceip --clustermac 01:00:5e:00:00:20 --total-nodes 2 --local-node {local}\nCOMMIT\n")
        };
        let host = "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n";
        let packet = "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn";
        let (one, two) = (walk(&rules(1), host, packet), walk(&rules(2), host, packet));
        let verdicts = [one.fate.verdict, two.fate.verdict];
        assert!(verdicts.contains(&FateVerdict::Accept) && verdicts.contains(&FateVerdict::Drop), "{verdicts:?}");
    }
}
