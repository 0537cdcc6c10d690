"""Terraform over the synthesized stacks: which executable (:mod:`.executable`), Terraform's own
parser as a synth gate (:mod:`.parser`), the stage runner (:mod:`.runner`), review records and the
second review before an apply (:mod:`.review_record`), and the bootstrap flow (:mod:`.bootstrap`)."""
