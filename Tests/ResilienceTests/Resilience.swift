import Testing

/// The resilience suite: the operator process under faults, one scenario at a time (each
/// starts its own control plane, stand-ins and operator; run together they would measure the
/// machine, not the operator).
@Suite(.serialized) enum Resilience {}
