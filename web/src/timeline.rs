//! The walk as the player steps through it, and where each moment is in the netfilter diagram.
//!
//! A moment is one line of the walk view: a rule (or a folded run of rules) the packet met, or a stage that
//! has no rules of its own to show (conntrack, the routing decision, delivery, leaving, a table the packet
//! skipped). The player's cursor is an index into [`moments`].

use crate::protocol::{Entry, Walk};
use chainwalk_core::ruleset::{Hook, TableName};
use chainwalk_core::trace::{StageKind, StageStatus};

/// One position of the player.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// An entry of [`Walk::entries`].
    Entry(usize),
    /// A stage (index into [`Walk::stages`]) with no entries.
    Stage(usize),
}

/// The moments of `walk`, in order: each stage's entries, or the stage itself when it has none.
pub fn moments(walk: &Walk) -> Vec<Moment> {
    let mut out = Vec::with_capacity(walk.entries.len() + walk.stages.len());
    let mut next = 0;
    for (s, stage) in walk.stages.iter().enumerate() {
        let start = next;
        while next < walk.entries.len() && walk.entries[next].stage() == s {
            out.push(Moment::Entry(next));
            next += 1;
        }
        if next == start && stage.status != StageStatus::Absent {
            out.push(Moment::Stage(s));
        }
    }
    // Entries of stages out of order (none are expected) still get a moment.
    out.extend((next..walk.entries.len()).map(Moment::Entry));
    out
}

/// The stage a moment belongs to.
pub fn stage_of(walk: &Walk, moment: Moment) -> usize {
    match moment {
        Moment::Entry(e) => walk.entries.get(e).map_or(0, Entry::stage),
        Moment::Stage(s) => s,
    }
}

/// The moment that shows step `step`.
pub fn moment_of_step(walk: &Walk, moments: &[Moment], step: usize) -> Option<usize> {
    moments.iter().position(|m| match *m {
        Moment::Entry(e) => match &walk.entries[e] {
            Entry::Step { index, .. } => *index == step,
            Entry::Run(run) => (run.first..=run.last).contains(&step),
        },
        Moment::Stage(_) => false,
    })
}

/// A place in the netfilter diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// Where packets arrive from the network.
    Ingress,
    /// A table's chain at a hook.
    Table(Hook, TableName),
    /// Connection tracking at PREROUTING or OUTPUT.
    Conntrack(Hook),
    /// The routing decision for arriving packets: INPUT or FORWARD.
    RouteIn,
    /// The routing decision for packets this host sends (and the rerouting after OUTPUT).
    RouteOut,
    /// A local process: where delivered packets end and sent ones start.
    Local,
    /// Where packets leave to the network.
    Egress,
}

/// The diagram node of stage `index` of `walk`.
pub fn node_of(walk: &Walk, index: usize) -> Node {
    let stage = &walk.stages[index];
    match (&stage.kind, stage.hook) {
        (StageKind::Table { table }, Some(hook)) => Node::Table(hook, *table),
        (StageKind::Conntrack, Some(hook)) => Node::Conntrack(hook),
        (StageKind::Conntrack, None) => Node::Conntrack(Hook::Prerouting),
        (StageKind::Deliver, _) => Node::Local,
        (StageKind::Egress, _) => Node::Egress,
        (StageKind::Arrival, _) => Node::Ingress,
        (StageKind::Routing | StageKind::Bridge, _) | (StageKind::Table { .. }, None) => {
            let next = walk.stages[index + 1..].iter().find_map(|s| s.hook);
            let previous = walk.stages[..index].iter().rev().find_map(|s| s.hook);
            match (previous, next) {
                (_, Some(Hook::Output | Hook::Postrouting)) => Node::RouteOut,
                (_, Some(_)) => Node::RouteIn,
                (Some(Hook::Prerouting), None) => Node::RouteIn,
                _ => Node::RouteOut,
            }
        }
    }
}

/// The diagram nodes the packet visited, in the walk's order, each with the first moment it shows.
pub fn visits(walk: &Walk, moments: &[Moment]) -> Vec<(Node, usize)> {
    let mut out: Vec<(Node, usize)> = Vec::new();
    for (i, &m) in moments.iter().enumerate() {
        let node = node_of(walk, stage_of(walk, m));
        if !out.iter().any(|v| v.0 == node) {
            out.push((node, i));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{run, Inputs};
    use crate::examples;

    fn walk_of(id: &str) -> Walk {
        let e = examples::by_id(id).expect("an example");
        let parsed = chainwalk_core::parse(e.rules, None);
        run(&parsed, Inputs { host: e.host, packet: e.packet, overrides: &[], expand: &[] }).walk.expect("a walk")
    }

    #[test]
    fn the_docker_story_moves_from_prerouting_to_local_delivery() {
        let walk = walk_of("docker-7788");
        let moments = moments(&walk);
        let nodes: Vec<Node> = moments.iter().map(|&m| node_of(&walk, stage_of(&walk, m))).collect();
        use Hook::*;
        use TableName::*;
        assert_eq!(
            nodes,
            [
                Node::Table(Prerouting, Raw),
                Node::Table(Prerouting, Raw),
                Node::Conntrack(Prerouting),
                Node::Table(Prerouting, Mangle),
                Node::Table(Prerouting, Nat),
                Node::RouteIn,
                Node::Table(Input, Mangle),
                Node::Table(Input, Filter),
                Node::Table(Input, Nat),
                Node::Local,
            ]
        );
        let deciding = walk.deciding.expect("a deciding step");
        assert_eq!(moment_of_step(&walk, &moments, deciding), Some(4));
        // Each node once, at its first moment: raw PREROUTING shows two.
        let visits = visits(&walk, &moments);
        assert_eq!(visits.iter().map(|v| v.1).collect::<Vec<_>>(), [0, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(visits[3], (Node::Table(Prerouting, Nat), 4));
    }

    #[test]
    fn a_sent_packet_is_routed_before_output() {
        let e = examples::FIRST;
        let parsed = chainwalk_core::parse(e.rules, None);
        let inputs = Inputs {
            host: e.host,
            packet: "tcp 198.51.100.2:40000 -> 203.0.113.9:443 syn",
            overrides: &[],
            expand: &[],
        };
        let walk = run(&parsed, inputs).walk.expect("a walk");
        let nodes: Vec<Node> = (0..walk.stages.len()).map(|s| node_of(&walk, s)).collect();
        assert_eq!(nodes.first(), Some(&Node::RouteOut), "{nodes:?}");
        assert_eq!(nodes.last(), Some(&Node::Egress), "{nodes:?}");
        assert!(nodes.contains(&Node::Table(Hook::Output, TableName::Filter)), "{nodes:?}");
    }

    #[test]
    fn a_packet_ipv6_drops_as_it_arrives_stops_at_the_ingress() {
        let rules = "# Generated by ip6tables-save v1.8.9\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n\
                     :OUTPUT ACCEPT [0:0]\nCOMMIT\n";
        let parsed = chainwalk_core::parse(rules, None);
        let host = "eth0 UP 2001:db8::2/64\n";
        let inputs =
            Inputs { host, packet: "tcp [::1]:40000 -> [2001:db8::2]:22 in eth0 syn", overrides: &[], expand: &[] };
        let walk = run(&parsed, inputs).walk.expect("a walk");
        assert_eq!((0..walk.stages.len()).map(|s| node_of(&walk, s)).collect::<Vec<_>>(), [Node::Ingress]);
        assert_eq!(walk.stages[0].status, chainwalk_core::trace::StageStatus::Stopped);
        let moments = moments(&walk);
        assert_eq!(visits(&walk, &moments).first().map(|v| v.0), Some(Node::Ingress));
    }
}
