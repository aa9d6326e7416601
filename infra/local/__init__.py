"""The local stack: the synthesized CDK template deployed into an embedded moto, the functions run
as worker processes, queue consumers, outbox pipes, an HTTP gateway, a simulated bank and a
settable clock (DESIGN.md section 3; docs/local-stack.md)."""
