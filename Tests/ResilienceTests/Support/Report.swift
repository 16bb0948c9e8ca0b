import Foundation

/// One line per fault for the table in the notes: what was done, what was checked, how long
/// the world took to be whole again.
func report(_ fault: String, converged seconds: TimeInterval, _ checked: String) {
    print(String(format: "resilience: %@: converged %.1f s after; checked %@", fault, seconds, checked))
}
