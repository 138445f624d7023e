"""Early warning: rules → findings → graded, routed alerts with state → notifiers; and the daily briefing.

    warning.rules        rule registry, Rule base, validate_rules (called by yuqing.config)
    warning.detectors    the rule types (volume_spike, negative_share)
    warning.alerts       findings → alerts: episodes, dedup, escalation, end after quiet
    warning.routing      topic × region → agency
    warning.grading      level thresholds; one level lower outside the home region
    warning.engine       WarningEngine.evaluate(now)
    warning.notifiers    Notifier base, FileNotifier, EmailNotifier, build_notifiers
    warning.reports      render_briefing (日报, HTML)
"""
