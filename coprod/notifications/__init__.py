"""Notifications: what in a collaboration concerns one member, in the app and by email.

A reply to my reflection, an @mention, a new message in my conversation and an improvement
action assigned to my organization each add one Notification (unique per user and cause).
The member reads them on /notifications (and GET /api/v1/me/notifications) and, as they
choose, gets an email for each at once, a daily summary at their local hour, or none.

A notification names what it is about ("reply:7"), never what was said. Whether the member
may still read that is asked every time: the page and the unread count filter in SQL, the
worker re-checks an email before sending, and the summary leaves out what became unreadable,
so a withdrawn consent hides a notification about a note on a citizen too.

    operations.py  notify() and the four causes; mark read; email preferences
    queries.py     what the member may still read, the unread count, descriptions and links
    summary.py     send_daily_summaries(now): one email per member at their local hour
    views.py       /notifications and the preferences form on the profile page
"""
