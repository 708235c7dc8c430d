//! Match modules (`-m NAME ...`): one file per module family, each with typed options that parse as the
//! module's `iptables` extension does and print as `iptables-save` prints them.
//!
//! Adding a module: write its file with a type that implements [`Extension`], then add one line to the
//! `modules!` list below.

use crate::diag::Diagnostic;
use crate::ext::{ExtCtx, Extension, Opt, OptSpec};
use crate::span::Span;
use crate::verbatim::Verbatim;
use serde::{Deserialize, Serialize};

pub mod addrtype;
pub mod bpf;
pub mod cgroup;
pub mod cluster;
pub mod comment;
pub mod connbytes;
pub mod connlabel;
pub mod connlimit;
pub mod connmark;
pub mod conntrack;
pub mod cpu;
pub mod dccp;
pub mod devgroup;
pub mod dscp;
pub mod ecn;
pub mod frag;
pub mod hashlimit;
pub mod helper;
pub mod hl;
pub mod icmp;
pub mod icmp6;
pub mod iprange;
pub mod ipsec;
pub mod ipv6header;
pub mod ipvs;
pub mod length;
pub mod limit;
pub mod mac;
pub mod mark;
pub mod mh;
pub mod multiport;
pub mod nfacct;
pub mod opts;
pub mod osf;
pub mod owner;
pub mod physdev;
pub mod pkttype;
pub mod policy;
pub mod quota;
pub mod rateest;
pub mod realm;
pub mod recent;
pub mod rpfilter;
pub mod rt;
pub mod sctp;
pub mod set;
pub mod socket;
pub mod srh;
pub mod state;
pub mod statistic;
pub mod string;
pub mod tcp;
pub mod tcpmss;
#[cfg(test)]
pub(crate) mod testing;
pub mod time;
pub mod tos;
pub mod ttl;
pub mod u32;
pub mod udp;

/// One `-m NAME [options]` of a rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// The `-m NAME` and all of its options; for an implicit match, its options.
    pub span: Span,
    /// Whether the module was loaded without `-m`, by an option of the rule's `-p` protocol
    /// (`-p tcp --dport 22`); `iptables-save` prints the `-m` anyway.
    pub implicit: bool,
    /// The typed options.
    pub kind: MatchKind,
}

impl Match {
    /// The module's name as `iptables-save` prints it after `-m`.
    pub fn name(&self) -> &str {
        self.kind.name()
    }

    /// Appends ` -m NAME` and the options, as `iptables-save` prints them.
    pub fn save(&self, out: &mut String) {
        out.push_str(" -m ");
        out.push_str(self.name());
        self.kind.save(out);
    }
}

macro_rules! modules {
    ($($variant:ident($ty:ty) = $name:literal;)*) => {
        /// The typed options of a match, one variant per module.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "module", content = "options", rename_all = "snake_case")]
        pub enum MatchKind {
            // Each module's options live in their own allocation, so a rule pays only for what it uses.
            $(
                #[allow(missing_docs)]
                #[serde(rename = $name)]
                $variant(Box<$ty>),
            )*
            /// A module chainwalk does not model, kept as written.
            Unmodelled(Box<Verbatim>),
        }

        /// The options of the module called `name`, if chainwalk models it.
        pub fn options(name: &str) -> Option<&'static [OptSpec]> {
            match name {
                $($name => Some(<$ty as Extension>::OPTIONS),)*
                _ => None,
            }
        }

        /// Builds the module called `name` (which must be one [`options`] knows) from its options.
        pub fn build(name: &str, opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<MatchKind, Diagnostic> {
            match name {
                $($name => Ok(MatchKind::$variant(Box::new(<$ty as Extension>::build(opts, ctx, warnings)?))),)*
                _ => {
                    let mut kept = Verbatim::from_opts(name, opts);
                    if name == "bpf" {
                        bpf::check(opts, &mut kept)?;
                    }
                    if name == "eui64" && ctx.family == crate::ruleset::Family::Ipv4 {
                        return Err(ctx.error("iptables has no eui64 match: it is for IPv6 only"));
                    }
                    Ok(MatchKind::Unmodelled(Box::new(kept)))
                }
            }
        }

        impl MatchKind {
            /// The module's name, as `iptables-save` prints it after `-m`.
            pub fn name(&self) -> &str {
                match self {
                    $(MatchKind::$variant(_) => $name,)*
                    MatchKind::Unmodelled(v) => &v.name,
                }
            }

            /// Appends the options as `iptables-save` prints them.
            pub fn save(&self, out: &mut String) {
                match self {
                    $(MatchKind::$variant(m) => m.save(out),)*
                    MatchKind::Unmodelled(v) => v.save(out),
                }
            }
        }
    };
}

modules! {
    Tcp(tcp::Tcp) = "tcp";
    Comment(comment::Comment) = "comment";
    Udp(udp::Udp) = "udp";
    Icmp(icmp::Icmp) = "icmp";
    Icmp6(icmp6::Icmp6) = "icmp6";
    Multiport(multiport::Multiport) = "multiport";
    Iprange(iprange::Iprange) = "iprange";
    Addrtype(addrtype::Addrtype) = "addrtype";
    Conntrack(conntrack::Conntrack) = "conntrack";
    State(state::State) = "state";
    Mark(mark::Mark) = "mark";
    Connmark(connmark::Connmark) = "connmark";
    Mac(mac::Mac) = "mac";
    Pkttype(pkttype::Pkttype) = "pkttype";
    Length(length::Length) = "length";
    Ttl(ttl::Ttl) = "ttl";
    Hl(hl::Hl) = "hl";
    Tos(tos::Tos) = "tos";
    Dscp(dscp::Dscp) = "dscp";
    TcpMss(tcpmss::TcpMss) = "tcpmss";
    RpFilter(rpfilter::RpFilter) = "rpfilter";
    Physdev(physdev::Physdev) = "physdev";
    Owner(owner::Owner) = "owner";
    U32(u32::U32) = "u32";
    Limit(limit::Limit) = "limit";
    Hashlimit(hashlimit::Hashlimit) = "hashlimit";
    Statistic(statistic::Statistic) = "statistic";
    Recent(recent::Recent) = "recent";
    Connlimit(connlimit::Connlimit) = "connlimit";
    Set(set::Set) = "set";
    Policy(policy::Policy) = "policy";
    Sctp(sctp::Sctp) = "sctp";
    Rt(rt::Rt) = "rt";
    Frag(frag::Frag) = "frag";
    Time(time::Time) = "time";
    StringMatch(string::StringMatch) = "string";
    Cgroup(cgroup::Cgroup) = "cgroup";
    Connbytes(connbytes::Connbytes) = "connbytes";
    Connlabel(connlabel::Connlabel) = "connlabel";
    Cpu(cpu::Cpu) = "cpu";
    Devgroup(devgroup::Devgroup) = "devgroup";
    Ecn(ecn::Ecn) = "ecn";
    Helper(helper::Helper) = "helper";
    Nfacct(nfacct::Nfacct) = "nfacct";
    Quota(quota::Quota) = "quota";
    Realm(realm::Realm) = "realm";
    Socket(socket::Socket) = "socket";
    Cluster(cluster::Cluster) = "cluster";
    Dccp(dccp::Dccp) = "dccp";
    Esp(ipsec::Esp) = "esp";
    Ah(ipsec::Ah) = "ah";
    Ipv6header(ipv6header::Ipv6header) = "ipv6header";
    Ipvs(ipvs::Ipvs) = "ipvs";
    Mh(mh::Mh) = "mh";
    Osf(osf::Osf) = "osf";
    Rateest(rateest::RateestMatch) = "rateest";
    Srh(srh::Srh) = "srh";
    Ipcomp(ipsec::Ipcomp) = "ipcomp";
    Hbh(opts::Hbh) = "hbh";
    Dst(opts::Dst) = "dst";
}

/// Match modules that exist in iptables 1.8 but that chainwalk does not model: they are kept as written,
/// with a warning. A name in neither list is refused, as `iptables` refuses a module it cannot load.
pub const UNMODELLED: &[&str] = &["bpf", "eui64", "l2tp"];

/// The options of an unmodelled module whose options are known (iptables 1.8.9's libxt_bpf and
/// libip6t_eui64): another option after it is refused as iptables refuses it, not kept as its own.
pub fn unmodelled_options(name: &str) -> Option<&'static [OptSpec]> {
    use crate::ext::{opt, Args};
    const BPF: &[OptSpec] = &[opt("bytecode", Args::One), opt("object-pinned", Args::One)];
    match name {
        "bpf" => Some(BPF),
        "eui64" => Some(&[]),
        _ => None,
    }
}

/// Whether a module called `name` exists for iptables 1.8 (modelled or not).
pub fn exists(name: &str) -> bool {
    options(name).is_some() || UNMODELLED.contains(&name)
}

/// The module `iptables` loads implicitly for the options of protocol `proto` (`-p tcp --dport 22`).
pub fn implicit_for(proto: crate::ruleset::Protocol, family: crate::ruleset::Family) -> Option<&'static str> {
    use crate::ruleset::{Family, Protocol};
    match proto {
        Protocol::TCP => Some("tcp"),
        Protocol::UDP => Some("udp"),
        Protocol::SCTP => Some("sctp"),
        Protocol::DCCP => Some("dccp"),
        ipsec::ESP => Some("esp"),
        ipsec::AH => Some("ah"),
        ipsec::IPCOMP => Some("ipcomp"),
        mh::MH if family == Family::Ipv6 => Some("mh"),
        Protocol::ICMP if family == Family::Ipv4 => Some("icmp"),
        Protocol::ICMPV6 if family == Family::Ipv6 => Some("icmp6"),
        _ => None,
    }
}
