"""Development tooling: throwaway services for the tests, the demo and the benchmark."""
