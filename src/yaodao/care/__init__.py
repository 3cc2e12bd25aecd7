"""Care: online consultations: triage, doctors, queues and matching, chat, notes and e-prescriptions."""
