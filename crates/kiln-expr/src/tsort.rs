//! Strongly connected components in exactly the order Ruby's `TSort` yields them.
//!
//! GitLab sorts variables with Ruby's `TSort` (Tarjan's algorithm over the nodes in collection order,
//! children in reference order). The order matters beyond cycle detection: it is the order in which
//! variables are expanded and the order of the list handed to the runner. This is the same algorithm,
//! written with an explicit stack so that a long chain of references cannot overflow the call stack.

/// The strongly connected components of the graph `children` (node `i` points at `children[i]`), in
/// the order `TSort.each_strongly_connected_component` yields them; each component lists its nodes in
/// the order they were first visited. Indexes in `children` must be below `children.len()`.
pub(crate) fn strongly_connected_components(children: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut walk = Walk { marks: vec![Mark::Unvisited; children.len()], next_id: 0, stack: Vec::new() };
    let mut components = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    for root in 0..children.len() {
        if walk.marks.get(root) != Some(&Mark::Unvisited) {
            continue;
        }
        frames.push(walk.enter(root));
        while let Some(frame) = frames.last_mut() {
            let next = children.get(frame.node).and_then(|c| c.get(frame.next_child)).copied();
            if let Some(child) = next {
                frame.next_child += 1;
                match walk.marks.get(child).copied() {
                    Some(Mark::Active(id)) => frame.minimum_id = frame.minimum_id.min(id),
                    Some(Mark::Unvisited) => {
                        let entered = walk.enter(child);
                        frames.push(entered);
                    }
                    Some(Mark::Done) | None => {}
                }
                continue;
            }
            let Some(done) = frames.pop() else { break };
            if done.node_id == done.minimum_id {
                let component = walk.stack.split_off(done.stack_len);
                for node in &component {
                    if let Some(mark) = walk.marks.get_mut(*node) {
                        *mark = Mark::Done;
                    }
                }
                components.push(component);
            }
            if let Some(parent) = frames.last_mut() {
                parent.minimum_id = parent.minimum_id.min(done.minimum_id);
            }
        }
    }
    components
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Unvisited,
    /// On the component stack, with its visit number.
    Active(usize),
    /// Its component has been yielded.
    Done,
}

/// One node being visited: what the recursive Ruby method keeps in its locals.
struct Frame {
    node: usize,
    node_id: usize,
    minimum_id: usize,
    stack_len: usize,
    next_child: usize,
}

struct Walk {
    marks: Vec<Mark>,
    next_id: usize,
    stack: Vec<usize>,
}

impl Walk {
    fn enter(&mut self, node: usize) -> Frame {
        let id = self.next_id;
        self.next_id += 1;
        if let Some(mark) = self.marks.get_mut(node) {
            *mark = Mark::Active(id);
        }
        let stack_len = self.stack.len();
        self.stack.push(node);
        Frame { node, node_id: id, minimum_id: id, stack_len, next_child: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::strongly_connected_components as scc;

    #[test]
    fn children_come_before_their_parents() {
        // 0 -> 1 -> 2
        assert_eq!(scc(&[vec![1], vec![2], vec![]]), [vec![2], vec![1], vec![0]]);
    }

    #[test]
    fn a_cycle_is_one_component_in_visit_order() {
        // 0 -> 1 -> 2 -> 0, and 3 alone
        assert_eq!(scc(&[vec![1], vec![2], vec![0], vec![]]), [vec![0, 1, 2], vec![3]]);
    }

    #[test]
    fn a_self_loop_is_a_component_of_one() {
        assert_eq!(scc(&[vec![0]]), [vec![0]]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000;
        let children: Vec<Vec<usize>> =
            (0..n).map(|i| if i + 1 < n { vec![i + 1] } else { vec![] }).collect();
        let components = scc(&children);
        assert_eq!(components.len(), n);
        assert_eq!(components.first(), Some(&vec![n - 1]));
    }
}
