"""Order manager: desired quotes vs live orders -> place / amend / cancel actions."""
