//! The examples menu: real-world dumps, each with a host and a packet, embedded in the app (the page
//! fetches nothing after it has loaded). Most come from the kernel-recorded cases in `tests/cases/`, so the
//! walk each one shows is what Linux did with that packet (`static/examples/README.md`).

/// One example: the three inputs and a few words about what it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Example {
    /// A short name for storage and links.
    pub id: &'static str,
    /// Its name in the menu.
    pub title: &'static str,
    /// What to look at, in one or two sentences.
    pub about: &'static str,
    /// The dump.
    pub rules: &'static str,
    /// The host.
    pub host: &'static str,
    /// The packet.
    pub packet: &'static str,
}

macro_rules! example {
    ($id:literal, $rules:literal, $files:literal, $title:literal, $about:literal) => {
        Example {
            id: $id,
            title: $title,
            about: $about,
            rules: include_str!(concat!("../../static/examples/", $rules, ".rules")),
            host: include_str!(concat!("../../static/examples/", $files, ".host")),
            packet: include_str!(concat!("../../static/examples/", $files, ".packet")),
        }
    };
}

/// Every example, the one a first visit shows first.
pub const EXAMPLES: [Example; 10] = [
    example!(
        "docker-7788",
        "docker-7788",
        "docker-7788",
        "Docker 7788: the unreachable container",
        "A real incident: a container published on port 7788 answered on the host but not from outside. \
         Someone had added an ACCEPT for a list of ports to nat PREROUTING, and ACCEPT ends that chain before \
         any rule jumps to DOCKER, so the DNAT to the container never happens."
    ),
    example!(
        "docker-7788-fixed",
        "docker-7788-fixed",
        "docker-7788",
        "Docker 7788: the fix",
        "The same dump with the fix: a first rule in nat PREROUTING jumps to DOCKER for the host's own \
         addresses, so the DNAT runs and the packet is forwarded to the container."
    ),
    example!(
        "docker-published-port",
        "docker-published-port",
        "docker-published-port",
        "Docker's default rules, a published port",
        "What `docker run -p 8080:80` writes: DNAT in the nat DOCKER chain, then the FORWARD chains \
         DOCKER-USER, DOCKER-ISOLATION and DOCKER accept the connection to the container."
    ),
    example!(
        "docker-bridge-icc",
        "docker-bridge-icc",
        "docker-bridge-icc",
        "Docker: two containers on docker0, icc=false",
        "One container connects to another on the same bridge. The bridge forwards the frame, but \
         br_netfilter (net.bridge.bridge-nf-call-iptables = 1) passes it through PREROUTING, FORWARD and \
         POSTROUTING without routing, with PHYSIN/PHYSOUT naming the ports; the rule dockerd writes for \
         --icc=false drops it in the DOCKER chain."
    ),
    example!(
        "kube-clusterip",
        "kube-clusterip",
        "kube-clusterip",
        "kube-proxy: a ClusterIP service",
        "A pod connects to a service's cluster IP: KUBE-SERVICES → KUBE-SVC → KUBE-SEP picks one of two endpoints \
         and DNATs to it. kube-proxy picks by chance (`statistic --probability 0.5`); chainwalk assumes the first is \
         not taken, so the packet goes to the second. Flip the assumption under Findings to take the first."
    ),
    example!(
        "kube-nodeport",
        "kube-nodeport",
        "kube-nodeport",
        "kube-proxy: a NodePort service",
        "A client outside the cluster reaches a NodePort: the last rule of KUBE-SERVICES sends local \
         destinations to KUBE-NODEPORTS, which marks the packet for masquerading and DNATs it to a pod."
    ),
    example!(
        "ufw-host",
        "ufw-host",
        "ufw-host",
        "A ufw host: a blocked port",
        "ufw's chains for a host that allows SSH and HTTP: a SYN to port 3306 walks through every ufw chain, \
         is logged (a rate limit, assumed not reached) and meets the INPUT policy DROP."
    ),
    example!(
        "default-drop-established",
        "default-drop-established",
        "default-drop-established",
        "Default DROP with an ESTABLISHED rule",
        "The classic firewall: INPUT drops by default and accepts packets of connections already \
         established. This packet belongs to one (CTSTATE=ESTABLISHED), so rule 2 accepts it."
    ),
    example!(
        "home-router",
        "home-router",
        "home-router",
        "A home NAT router",
        "A laptop on the LAN opens a connection to the internet: FORWARD accepts LAN to WAN, and \
         MASQUERADE in nat POSTROUTING gives the packet the router's WAN address."
    ),
    example!(
        "ipv6-host",
        "ipv6-host",
        "ipv6-host",
        "An IPv6 host",
        "An ip6tables-save dump: INPUT drops by default, lets ICMPv6 neighbour discovery and ping through, \
         and accepts SSH."
    ),
];

/// The example a first visit shows.
pub const FIRST: Example = EXAMPLES[0];

/// The example called `id`.
pub fn by_id(id: &str) -> Option<Example> {
    EXAMPLES.iter().copied().find(|e| e.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{run, Inputs};
    use chainwalk_core::trace::FateVerdict;

    #[test]
    fn every_example_reads_and_walks() {
        for e in EXAMPLES {
            let parsed = chainwalk_core::parse(e.rules, None);
            let outcome = run(&parsed, Inputs { host: e.host, packet: e.packet, overrides: &[], expand: &[] });
            assert_eq!(outcome.dump.errors, 0, "{}", e.id);
            assert!(outcome.host.given && outcome.host.errors.is_empty(), "{}", e.id);
            assert_eq!(outcome.packet_error, None, "{}", e.id);
            let walk = outcome.walk.unwrap_or_else(|| panic!("{} walks", e.id));
            assert!(!walk.log.is_empty(), "{}", e.id);
        }
    }

    #[test]
    fn the_fix_forwards_to_the_container() {
        let e = by_id("docker-7788-fixed").expect("the fix");
        let parsed = chainwalk_core::parse(e.rules, None);
        let walk = run(&parsed, Inputs { host: e.host, packet: e.packet, overrides: &[], expand: &[] }).walk.unwrap();
        assert_eq!(walk.fate.verdict, FateVerdict::Accept);
        assert_eq!(walk.fate.out.as_deref(), Some("docker0"));
        assert_eq!(walk.fate.dst, "172.17.0.2:7788");
    }

    #[test]
    fn the_bridge_example_is_bridged_and_dropped_by_the_icc_rule() {
        let e = by_id("docker-bridge-icc").expect("the bridge example");
        let parsed = chainwalk_core::parse(e.rules, None);
        let walk = run(&parsed, Inputs { host: e.host, packet: e.packet, overrides: &[], expand: &[] }).walk.unwrap();
        assert_eq!(walk.fate.verdict, FateVerdict::Drop);
        assert_eq!(walk.fate.physout.as_deref(), Some("veth2"));
        let last = walk.log.last().expect("TRACE lines");
        let last = &last.text;
        assert!(
            last.starts_with("TRACE: filter:DOCKER:rule:1 IN=docker0 OUT=docker0 PHYSIN=veth1 PHYSOUT=veth2"),
            "{last}"
        );
    }

    #[test]
    fn ids_are_unique() {
        for (i, e) in EXAMPLES.iter().enumerate() {
            assert!(EXAMPLES[..i].iter().all(|o| o.id != e.id), "{}", e.id);
        }
    }
}

#[cfg(test)]
mod packet_lines {
    use chainwalk_core::packet::parse;
    use chainwalk_core::packet_text::{write, Style};

    #[test]
    fn every_example_packet_survives_both_styles() {
        for e in super::EXAMPLES {
            let p = parse(e.packet).unwrap_or_else(|d| panic!("{}: {d}", e.packet));
            for style in [Style::Short, Style::Log] {
                let line = write(&p, style);
                assert_eq!(parse(&line).as_ref().ok(), Some(&p), "{line}");
            }
        }
    }
}
