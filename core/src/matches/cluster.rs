//! `-m cluster`: splits connections among the nodes of a cluster that all receive every packet, by a hash of
//! the connection's original source address (`libxt_cluster`, the kernel's `xt_cluster.c`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::net::IpAddr;

/// The most nodes a cluster may have (`XT_CLUSTER_NODES_MAX`).
pub const MAX_NODES: u32 = 32;

/// The options of `-m cluster`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// `--cluster-total-nodes N`: how many nodes share the traffic.
    pub total_nodes: u32,
    /// `--cluster-local-nodemask MASK` (or `--cluster-local-node N`, bit N-1): the nodes this machine is.
    pub node_mask: u32,
    /// Whether `!` came before the node option.
    pub negated: bool,
    /// `--cluster-hash-seed N`: the seed of the hash, the same on every node.
    pub hash_seed: u32,
}

/// The golden-ratio start value of Bob Jenkins' hash as the kernel's `jhash.h` has it.
const JHASH_INITVAL: u32 = 0xdead_beef;

fn jhash_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

fn jhash_final(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// `jhash2` of the kernel's `jhash.h`: Bob Jenkins' lookup3 hash of 32-bit words.
pub(crate) fn jhash2(words: &[u32], initval: u32) -> u32 {
    let start = JHASH_INITVAL.wrapping_add((words.len() as u32) << 2).wrapping_add(initval);
    let (mut a, mut b, mut c) = (start, start, start);
    let mut k = words;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        jhash_mix(&mut a, &mut b, &mut c);
        k = &k[3..];
    }
    if k.is_empty() {
        return c;
    }
    if k.len() == 3 {
        c = c.wrapping_add(k[2]);
    }
    if k.len() >= 2 {
        b = b.wrapping_add(k[1]);
    }
    a = a.wrapping_add(k[0]);
    jhash_final(&mut a, &mut b, &mut c);
    c
}

/// `jhash_1word`, `jhash_2words` and `jhash_3words` of the kernel's `jhash.h`: the first `n` of `words`
/// (the others 0).
pub(crate) fn jhash_words(words: [u32; 3], n: u32, initval: u32) -> u32 {
    let init = initval.wrapping_add(JHASH_INITVAL).wrapping_add(n << 2);
    let (mut a, mut b, mut c) = (words[0].wrapping_add(init), words[1].wrapping_add(init), words[2].wrapping_add(init));
    jhash_final(&mut a, &mut b, &mut c);
    c
}

/// `jhash_1word` of the kernel's `jhash.h`.
pub(crate) fn jhash_1word(word: u32, initval: u32) -> u32 {
    jhash_words([word, 0, 0], 1, initval)
}

/// The words of an address as the kernel's hashes read them from memory on a little-endian machine (x86,
/// most ARM): each 4 bytes of the address in network order, read as a native 32-bit number.
pub(crate) fn address_words(addr: IpAddr) -> Vec<u32> {
    let bytes = match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    bytes.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

impl Cluster {
    /// The node (0 to `total_nodes` - 1) that `xt_cluster_hash` picks for a connection whose original
    /// source is `src`.
    pub fn node_of(&self, src: IpAddr) -> u32 {
        let words = address_words(src);
        let hash = match src {
            IpAddr::V4(_) => jhash_1word(words[0], self.hash_seed),
            // `xt_cluster_hash_ipv6` passes `NF_CT_TUPLE_L3SIZE / sizeof(__u32)` words, and that size
            // counts words, not bytes: only the address's first 32 bits are hashed.
            IpAddr::V6(_) => jhash2(&words[..1], self.hash_seed),
        };
        ((u64::from(hash) * u64::from(self.total_nodes)) >> 32) as u32
    }
}

fn number(o: &Opt<'_>, min: u64, max: u64) -> Result<u32, Diagnostic> {
    o.no_negation()?;
    crate::values::opt_number(o, min, max).map(|n| n as u32)
}

impl Extension for Cluster {
    const OPTIONS: &'static [OptSpec] = &[
        opt("cluster-total-nodes", Args::One),
        opt("cluster-local-node", Args::One),
        opt("cluster-local-nodemask", Args::One),
        opt("cluster-hash-seed", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Cluster, Diagnostic> {
        let total = find(opts, "cluster-total-nodes")?
            .ok_or_else(|| ctx.error("the cluster match needs `--cluster-total-nodes N`"))?;
        let total_nodes = number(total, 1, u64::from(MAX_NODES))?;
        let seed = find(opts, "cluster-hash-seed")?
            .ok_or_else(|| ctx.error("the cluster match needs `--cluster-hash-seed N`"))?;
        let hash_seed = number(seed, 0, u64::from(u32::MAX))?;
        crate::ext::exclusive(opts, &["cluster-local-node", "cluster-local-nodemask"])?;
        let (node_mask, negated, what) =
            match (find(opts, "cluster-local-node")?, find(opts, "cluster-local-nodemask")?) {
                (Some(o), _) => {
                    let n = crate::values::opt_number(o, 1, u64::from(MAX_NODES))? as u32;
                    (1u32 << (n - 1), o.negated, "`--cluster-local-node` must not be more than `--cluster-total-nodes`")
                }
                (None, Some(o)) => {
                    let m = crate::values::opt_number(o, 1, u64::from(MAX_NODES))? as u32;
                    (m, o.negated, "`--cluster-local-nodemask` names nodes beyond `--cluster-total-nodes`")
                }
                (None, None) => {
                    return Err(ctx
                        .error("the cluster match needs `--cluster-local-node N` or `--cluster-local-nodemask MASK`"))
                }
            };
        if u64::from(node_mask) >= 1u64 << total_nodes {
            return Err(ctx.error(what));
        }
        Ok(Cluster { total_nodes, node_mask, negated, hash_seed })
    }

    /// Always the node mask, even when a node number was given.
    fn save(&self, out: &mut String) {
        let _ = write!(
            out,
            "{} --cluster-local-nodemask {:#010x} --cluster-total-nodes {} --cluster-hash-seed {:#010x}",
            if self.negated { " !" } else { "" },
            self.node_mask,
            self.total_nodes,
            self.hash_seed
        );
    }
}

impl Evaluate for Cluster {
    /// `xt_cluster_mt` in `xt_cluster.c`: without a connection nothing matches; otherwise the connection (or
    /// the one it is related to through a helper, which chainwalk takes to be itself) is hashed by its
    /// original source address, with the seed, onto one of the nodes, and the match holds when that node is
    /// in the mask. The hash is the kernel's `jhash` as a little-endian machine computes it (of an IPv6
    /// address, only the first 32 bits: the kernel passes a word count where it means a byte count).
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if !super::conntrack::has_connection(ctx.ct) {
            return Outcome::no(format!(
                "{}, so the cluster match does not match",
                super::conntrack::no_connection(ctx)
            ));
        }
        let src = ctx.ct.original.src;
        let node = self.node_of(src);
        let mine = self.node_mask & (1 << node) != 0;
        let fact = format!(
            "the connection's original source {src} hashes to node {} of {}, which is {}in the local node mask {:#x}",
            node + 1,
            self.total_nodes,
            if mine { "" } else { "not " },
            self.node_mask
        );
        conclude(mine, self.negated, fact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            (
                "--cluster-total-nodes 2 --cluster-local-node 1 --cluster-hash-seed 0xdeadbeef",
                "--cluster-local-nodemask 0x00000001 --cluster-total-nodes 2 --cluster-hash-seed 0xdeadbeef",
            ),
            (
                "--cluster-total-nodes 2 --cluster-local-node 2 --cluster-hash-seed 1",
                "--cluster-local-nodemask 0x00000002 --cluster-total-nodes 2 --cluster-hash-seed 0x00000001",
            ),
            (
                "--cluster-total-nodes 2 ! --cluster-local-nodemask 3 --cluster-hash-seed 1",
                "! --cluster-local-nodemask 0x00000003 --cluster-total-nodes 2 --cluster-hash-seed 0x00000001",
            ),
            (
                "--cluster-total-nodes 32 --cluster-local-node 32 --cluster-hash-seed 4294967295",
                "--cluster-local-nodemask 0x80000000 --cluster-total-nodes 32 --cluster-hash-seed 0xffffffff",
            ),
        ] {
            let rule = format!("-A INPUT -m cluster {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -m cluster {printed} -j ACCEPT"));
        }
        assert_eq!(
            saved(Ipv6, "filter", "-A INPUT -m cluster --cluster-total-nodes 3 --cluster-local-node 3 --cluster-hash-seed 7"),
            "-A INPUT -m cluster --cluster-local-nodemask 0x00000004 --cluster-total-nodes 3 --cluster-hash-seed 0x00000007"
        );
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -m cluster {o} -j ACCEPT"));
        assert_eq!(
            e("--cluster-total-nodes 2 --cluster-local-node 3 --cluster-hash-seed 1"),
            (10, "`--cluster-local-node` must not be more than `--cluster-total-nodes`".into())
        );
        assert_eq!(
            e("--cluster-total-nodes 2 --cluster-local-nodemask 4 --cluster-hash-seed 1").1,
            "`--cluster-local-nodemask` names nodes beyond `--cluster-total-nodes`"
        );
        assert_eq!(
            e("--cluster-total-nodes 2 --cluster-hash-seed 1").1,
            "the cluster match needs `--cluster-local-node N` or `--cluster-local-nodemask MASK`"
        );
        assert_eq!(
            e("--cluster-local-node 1 --cluster-hash-seed 1").1,
            "the cluster match needs `--cluster-total-nodes N`"
        );
        assert_eq!(
            e("--cluster-total-nodes 2 --cluster-local-node 1").1,
            "the cluster match needs `--cluster-hash-seed N`"
        );
        assert_eq!(
            e("--cluster-total-nodes 33 --cluster-local-node 1 --cluster-hash-seed 1"),
            (43, "`--cluster-total-nodes` takes a number from 1 to 32, not `33`".into())
        );
        assert_eq!(
            e("--cluster-total-nodes 2 --cluster-local-node 1 --cluster-local-nodemask 1 --cluster-hash-seed 1").1,
            "only one of `--cluster-local-node`, `--cluster-local-nodemask` may be given"
        );
        assert_eq!(
            e("! --cluster-total-nodes 2 --cluster-local-node 1 --cluster-hash-seed 1").1,
            "`--cluster-total-nodes` cannot be negated with `!`"
        );
        assert_eq!(
            e("--cluster-total-nodes 2 --cluster-local-node 0 --cluster-hash-seed 1").1,
            "`--cluster-local-node` takes a number from 1 to 32, not `0`"
        );
    }

    #[test]
    fn jhash_is_the_kernels() {
        // Known values of lookup3's hashword() (which jhash2 is) from its author's test driver.
        assert_eq!(jhash2(&[], 0), 0xdeadbeef);
        assert_eq!(jhash_1word(0, 0), jhash2(&[0], 0));
        assert_eq!(jhash_1word(0x1234_5678, 99), jhash2(&[0x1234_5678], 99));
    }

    /// Recorded on Linux 6.18 (x86-64): one UDP packet from each source to a local address, through
    /// `-m cluster` rules in OUTPUT (one per node mask), and which rules counted it.
    #[test]
    fn nodes_are_the_kernels() {
        let cluster = |total_nodes, hash_seed| Cluster { total_nodes, node_mask: 1, negated: false, hash_seed };
        let two = cluster(2, 0x1234);
        let on_node_one: Vec<u32> = (1..=16).filter(|i| two.node_of(IpAddr::from([10, 9, 0, *i as u8])) == 0).collect();
        assert_eq!(on_node_one, [5, 7, 8, 9, 12, 13, 14]);
        let five = cluster(5, 7);
        let on_node_one: Vec<u32> = (1..=4).filter(|i| five.node_of(IpAddr::from([10, 9, 0, *i as u8])) == 0).collect();
        assert_eq!(on_node_one, [1, 2, 4]);
        // IPv6: only the first 32 bits count (every 2001:db8::N lands on the same node).
        let v6 = |a: &str| a.parse::<IpAddr>().unwrap();
        let three = cluster(3, 0xabcdef);
        let nodes: Vec<u32> = ["2001:db8::1", "2001:db8::12", "2001:db8:1::1", "2001:db9::1", "fd00::1"]
            .iter()
            .map(|a| three.node_of(v6(a)))
            .collect();
        assert_eq!(nodes, [2, 2, 2, 2, 0]);
        let seed0 = cluster(3, 0);
        let nodes: Vec<u32> =
            ["2001:db8:1::1", "2001:db9::1", "fd00::1"].iter().map(|a| seed0.node_of(v6(a))).collect();
        assert_eq!(nodes, [1, 1, 2]);
    }

    #[test]
    fn the_connection_hashes_to_a_node() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn");
        let m =
            |o: &str| match first_match(Ipv4, &format!("-m cluster --cluster-total-nodes 2 {o} --cluster-hash-seed 1"))
            {
                MatchKind::Cluster(m) => m,
                other => panic!("{other:?}"),
            };
        let one = m("--cluster-local-node 1");
        let two = m("--cluster-local-node 2");
        // Exactly one of the two nodes takes the connection.
        assert_ne!(one.eval(&s.ctx()).holds, two.eval(&s.ctx()).holds);
        assert!(m("--cluster-local-nodemask 3").eval(&s.ctx()).holds);
        assert!(!m("! --cluster-local-nodemask 3").eval(&s.ctx()).holds);
        let why = one.eval(&s.ctx()).why;
        assert!(why.starts_with("the connection's original source 192.0.2.1 hashes to node "), "{why}");
    }
}
