"""The merchant portal: merchants (this issue: the table and the operator CLI; onboarding pages
arrive with the merchant-portal issue)."""
