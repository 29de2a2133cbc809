"""English texts. Same keys and placeholders as :mod:`handlers.texts.th`."""

from __future__ import annotations

TEXTS: dict[str, str] = {
    # --- words a reporter may type (never shown; "|" separates alternatives) ---
    "kw.report": "report|make a report|new report",
    "kw.status": "status|check status",
    "kw.cancel": "cancel",
    "kw.stop_updates": "stop updates|stop notifications",
    "kw.done": "done|finished|finish",
    "kw.district_affix": "district office|district|khet|office",
    "kw.today": "today",
    "kw.yesterday": "yesterday",
    # relative dates (handlers.dates): "last Tuesday", "3 days ago", "early this month"
    "kw.dept_affix": "bma|the|department|dept|of|office",
    "kw.weekday.0": "monday|mon",
    "kw.weekday.1": "tuesday|tue|tues",
    "kw.weekday.2": "wednesday|wed",
    "kw.weekday.3": "thursday|thu|thurs",
    "kw.weekday.4": "friday|fri",
    "kw.weekday.5": "saturday|sat",
    "kw.weekday.6": "sunday|sun",
    "kw.weekday_prefix": "on",
    "kw.number.1": "a|an|one",
    "kw.number.2": "two",
    "kw.number.3": "three",
    "kw.number.4": "four",
    "kw.number.5": "five",
    "kw.number.6": "six",
    "kw.number.7": "seven",
    "kw.number.8": "eight",
    "kw.number.9": "nine",
    "kw.number.10": "ten",
    "kw.unit.day": "day|days",
    "kw.unit.week": "week|weeks",
    "kw.ago": "ago|before|last",
    "kw.last_before": "last|this past|on last|on",
    "kw.date_before": "on|it was|about|around",
    "kw.date_after": "please",
    "kw.day_before_yesterday": "the day before yesterday|day before yesterday",
    "kw.part.early": "early|beginning of|start of|the beginning of|the start of",
    "kw.part.mid": "mid|middle of|the middle of",
    "kw.part.late": "late|end of|the end of",
    "kw.this_month": "this month",
    "kw.last_month": "last month",
    "kw.whole_last_month": "last month",
    "kw.last_week": "last week",
    "kw.thanks": "thank you|thanks|thank you very much|thanks a lot|thx|ok|okay|noted",
    "kw.greeting": "hello|hi|hey|good morning|good afternoon|good evening",
    "kw.send": "send|send it|yes send",
    # --- buttons shared by many questions (quick-reply labels: at most 20 characters) ---
    "btn.cancel": "Cancel",
    "btn.cmd.report": "Make a report",
    "btn.cmd.status": "Check status",
    "btn.lang.self": "English",
    "btn.done": "Done",
    "label.done": "Done",
    "btn.skip": "Skip",
    "label.skip": "Skip (not given)",
    "btn.clear": "Clear and rewrite",
    "label.clear": "Clear what I wrote and start again",
    "btn.today": "Today",
    "label.today": "Today",
    "btn.yesterday": "Yesterday",
    "label.yesterday": "Yesterday",
    "btn.no_evidence": "No evidence",
    "label.no_evidence": "I have no evidence",
    "btn.restart.continue": "Continue my draft",
    "label.restart.continue": "Continue my draft",
    "btn.restart.over": "Start over",
    "label.restart.over": "Delete my draft and start over",
    # --- greeting, help, general ---
    "greeting": (
        'Hello, this is Krasip ("whisper"), where you can report Bangkok city officials who '
        "ask for bribes or cheat.\n\n"
        "• Your report goes to the city's anti-corruption centre (ศปท.กทม.) to be checked.\n"
        "• You can report anonymously, without your name. If you give your name, we keep it "
        "secret.\n"
        "• After sending you get a tracking token to follow your report at any time.\n\n"
        'Type "report" to start, or send your tracking token to see how your report is going.'
    ),
    "help": (
        'What would you like to do?\n• Type "report" to make a new report.\n'
        "• Send your tracking token (like 7KQ2-M9XD-4FRA-8PZT) to see a report's status.\n"
        '• Type "stop updates" to receive no more update messages.'
    ),
    "idle.thanks": ("You're welcome. To make a report or follow one, pick a button below."),
    "idle.media": (
        "To send photos or files as evidence, please start a report first; the form asks "
        "for evidence later on. This file has not been kept."
    ),
    "group.notice": (
        "Krasip only takes reports in a private 1:1 chat with this account. For your own "
        "safety, please never describe or post a report in a group."
    ),
    "failure.notice": (
        "Sorry, something went wrong on our side. Nothing you sent is lost. Please try "
        "again in a moment."
    ),
    "update.notice": (
        "There is an update on your report. Send your tracking token in this chat to read it."
    ),
    "updates.stopped": (
        "We will not send update messages to this chat any more. You can still check the "
        "status yourself at any time with your tracking token."
    ),
    "cancel.form": "Your report was cancelled. The draft and any files you sent were deleted.",
    "cancel.other": "Cancelled.",
    "cancel.confirm": (
        "Do you want to cancel this report? If you do, what you have filled in and any "
        "files you sent are deleted and cannot be recovered."
    ),
    "cancel.kept": "Fine, let's carry on. Everything you filled in is still here.",
    "btn.cancel_confirm.keep": "Keep going",
    "label.cancel_confirm.keep": "Don't cancel, keep going",
    "btn.cancel_confirm.drop": "Cancel and delete",
    "label.cancel_confirm.drop": "Cancel and delete this draft",
    "cancel.nothing": "There is nothing to cancel right now.",
    "draft.expired": (
        "The report you started was left unfinished for too long, so it was deleted for "
        "your safety."
    ),
    "restart.prompt": ("You have an unfinished report. Continue it, or delete it and start over?"),
    # --- errors ---
    "err.empty": "Nothing received yet. Please type your answer.",
    "err.too_long": (
        "That is too long ({length} characters); at most {limit} characters per message. "
        "Nothing was saved. Please shorten it or send it in parts."
    ),
    "err.choose": "Please pick one of the buttons below, or type its label.",
    "err.answer_in_text": "Please answer in text.",
    "err.media_not_now": (
        'Thank you. Photos and files are asked for at the "evidence" step; this one has '
        "not been kept. Please answer the current question first."
    ),
    "err.invalid": "That answer does not work here. Please try again.",
    "err.contact": (
        "That does not look like a phone number or e-mail address. Please type a phone "
        "number such as 081-234-5678 or +66812345678, or an e-mail such as name@example.com."
    ),
    "err.too_many_media": "At most {max} files per report. This file has not been kept.",
    "err.case_files_full": (
        "This case already has {max} evidence files, the most one case can hold. This file "
        "has not been kept. If you have more important evidence, please contact the BMA "
        "Anti-Corruption Centre directly. You can still send messages."
    ),
    "err.case_bytes_full": (
        "The evidence storage of this case is full (at most {max_mb} MB per case). This file "
        "has not been kept. If you have more important evidence, please contact the BMA "
        "Anti-Corruption Centre directly. You can still send messages."
    ),
    "err.case_messages_full": (
        "This case has had {max} messages from you in the last 24 hours, the most it takes. "
        "This message has not been sent. Please send it again tomorrow, or if it is urgent, "
        "contact the BMA Anti-Corruption Centre directly."
    ),
    "err.file_too_big": (
        "This file is too large: at most {max_mb} MB per file. It has not been kept."
    ),
    "err.description_empty": 'Please describe what happened in at least one message before "Done".',
    "err.description_full": (
        "The description can be at most {limit} characters in total; {room} characters are "
        "left. This message was not saved."
    ),
    "err.date_invalid": "That date does not exist. Please check it, e.g. 15/03/2026.",
    "err.date_future": "That date is in the future. Please give the date it happened.",
    # --- the form ---
    "step.language": "กรุณาเลือกภาษา / Please choose a language",
    "btn.language.th": "ภาษาไทย",
    "label.language.th": "ภาษาไทย",
    "btn.language.en": "English",
    "label.language.en": "English",
    "step.intro": (
        "Before we start, three short points.\n\n"
        "1. Where your report goes: to the city's anti-corruption centre (ศปท.กทม.). Staff "
        "check the facts first; if there is something in it, a team looks into it in "
        "secret. You can follow it yourself with your tracking token.\n\n"
        "2. How you stay safe: your name, address, photos and anything else that could "
        "show it was you are kept secret. The person you report will not learn who reported "
        "them. We remove the GPS location from photos you send, and you do not have to give "
        "your name at all.\n\n"
        "3. If you do not give your name, your report is considered when it has clear "
        "evidence (photos, clips, receipts, chat messages) and says who else saw what "
        "happened.\n\n"
        'Type "cancel" at any step to stop.\n\n'
        "Source: BMA anti-bribery guidelines, section 8, protection of complainants and "
        "informants (8.1.1, 8.2.1)"
    ),
    "btn.intro.ok": "I understand, go on",
    "label.intro.ok": "I understand, continue",
    "step.identity_mode": (
        "How would you like to report?\n\n"
        "• Anonymous: no name needed; we never know who you are, so staff cannot call you "
        "back. You can still follow the report and add to it with your tracking token. It "
        "is considered when it has clear evidence and says who saw what happened.\n"
        "• Confidential: your name and contact are locked away separately; only an appointed "
        "person can open them. They are an official secret, every copy sent out for checking "
        "has your name masked, and staff can contact you with questions.\n\n"
        "Source: BMA anti-bribery guidelines, sections 8.1.1 and 8.1.2"
    ),
    "btn.identity_mode.anonymous": "Anonymous",
    "label.identity_mode.anonymous": "Report anonymously",
    "btn.identity_mode.confidential": "Confidential",
    "label.identity_mode.confidential": "Confidential (name sealed)",
    "step.category": "What is the report about?",
    "cat.procurement": "Procurement (incl. schools)",
    "btn.cat.procurement": "Procurement",
    "cat.public_works": "Public works, building permits",
    "btn.cat.public_works": "Public works",
    "cat.city_law": "City law enforcement, street vendors",
    "btn.cat.city_law": "City law/vendors",
    "cat.environment": "Environment",
    "btn.cat.environment": "Environment",
    "cat.registration": "Civil & commercial registration, business permits",
    "btn.cat.registration": "Registration/permits",
    "cat.money": "Fees, fines, payments, allowances",
    "btn.cat.money": "Fees/fines/payments",
    "cat.assets": "Misuse of official property or time",
    "btn.cat.assets": "Official property",
    "cat.personnel": "Hiring, appointments, personnel",
    "btn.cat.personnel": "Hiring/personnel",
    "cat.other": "Other",
    "btn.cat.other": "Other",
    "step.agency": (
        "Where does the official involved work? Pick a button below, or type the name of the "
        "district or agency, e.g. Bang Rak district or Public Works Department."
    ),
    "agency.noted": "Agency noted: {name}",
    "dept.public_works": "Public Works Department",
    "btn.dept.public_works": "Public Works Dept",
    "kw.dept.public_works": "public works",
    "dept.city_law": "City Law Enforcement Department",
    "btn.dept.city_law": "City Law Enf. Dept",
    "kw.dept.city_law": "city law enforcement|city law|tessakij",
    "dept.education": "Education Department",
    "btn.dept.education": "Education Dept",
    "kw.dept.education": "education",
    "dept.environment": "Environment Department",
    "btn.dept.environment": "Environment Dept",
    "kw.dept.environment": "environment",
    "dept.drainage": "Drainage and Sewerage Department",
    "btn.dept.drainage": "Drainage Dept",
    "kw.dept.drainage": "drainage|drainage and sewerage",
    "dept.traffic": "Traffic and Transportation Department",
    "btn.dept.traffic": "Traffic Dept",
    "kw.dept.traffic": "traffic|traffic and transportation",
    "dept.health": "Health Department",
    "btn.dept.health": "Health Dept",
    "kw.dept.health": "health",
    "dept.medical": "Medical Service Department",
    "btn.dept.medical": "Medical Service Dept",
    "kw.dept.medical": "medical|medical service",
    "dept.finance": "Finance Department",
    "btn.dept.finance": "Finance Dept",
    "kw.dept.finance": "finance",
    "btn.agency.district": "District office",
    "label.agency.district": "A district office",
    "btn.agency.other": "Other agency",
    "label.agency.other": "A BMA department or other agency",
    "step.district": "Which district? Pick a button or type the name, e.g. Bang Rak.",
    "district.page": "Pick a district (page {page}/{pages}) or type its name.",
    "btn.district.more": "More ▶",
    "label.district.more": "More districts",
    "btn.district.type": "Type the name",
    "label.district.type": "I'll type the name",
    "district.type_name": "Please type the district's name, e.g. Bang Rak or Huai Khwang.",
    "district.ambiguous": "Several districts match. Which one do you mean?",
    "district.none": 'No Bangkok district is called "{typed}". Please type it again or pick one.',
    "district.chosen": "Selected: {name} District Office",
    "fmt.district": "{name} District Office",
    "step.agency_name": "Please type the department or agency, e.g. Department of Public Works.",
    "step.official_name": 'The official\'s name, if you know it, or press "Skip".',
    "step.official_position": 'The official\'s position, if you know it, or press "Skip".',
    "step.description": (
        "What happened? Who did what, how, and what money or favours were asked for? You may "
        'send several messages (at most {limit} characters in total); press "Done" when '
        "finished."
    ),
    "description.added": ('Saved ({length}/{limit} characters). Send more, or press "Done".'),
    "description.cleared": "Cleared. Please describe it again.",
    "step.when": (
        "When did it happen? Type a date such as 15/03/2026, or say it as you would, e.g. "
        '"last Tuesday", "3 days ago", "early this month", or roughly, e.g. "about March".'
    ),
    "step.where": "Where did it happen (place, street or service counter)?",
    "step.evidence": (
        "Do you have evidence? Send photos, videos, audio or files (at most {max}) and/or "
        "type what evidence exists and where. Hidden data in photos, such as GPS position, "
        'is removed. Press "Done" when finished.'
    ),
    "evidence.received": 'Received item {count} (at most {max}). Send more, or press "Done".',
    "evidence.noted": 'Evidence description saved. Send more, or press "Done".',
    "step.witnesses": (
        "Are there witnesses who saw it happen? Give their names or positions and how to "
        'reach them if possible, or press "Skip".'
    ),
    "step.reporter_name": (
        "Your full name. It is encrypted and sealed; ordinary staff accounts cannot see it."
    ),
    "step.reporter_contact": "A phone number or e-mail address where you can safely be reached.",
    "step.reporter_relation": "How are you related to the case? Pick a button or type it.",
    "btn.reporter_relation.victim": "Victim",
    "label.reporter_relation.victim": "I am the victim",
    "btn.reporter_relation.witness": "Witness",
    "label.reporter_relation.witness": "I witnessed it",
    "btn.reporter_relation.insider": "Insider/employee",
    "label.reporter_relation.insider": "I work there (insider/employee)",
    "btn.reporter_relation.other": "Other",
    "label.reporter_relation.other": "Other",
    "step.notify": (
        "Do you want a LINE message when your case changes? It only says that there is an "
        "update, never the content; you read it by sending your tracking token.\n\n"
        'If you choose "Yes", we must keep your LINE account linked to this report '
        "(encrypted) until the case closes; then the link is destroyed for good, or at once "
        'when you send "stop updates".\n'
        'If you choose "No", nothing links your LINE account to this report. '
        "You can always check it with your tracking token."
    ),
    "btn.notify.yes": "Yes, notify me",
    "label.notify.yes": "Yes, tell me about updates",
    "btn.notify.no": "No",
    "label.notify.no": "No update messages",
    "step.anonymous_bar": (
        "Please note (section 8.1.1): an anonymous complaint, without signature, address or "
        'position, "is not considered unless it states clear evidence and names '
        'witnesses".\n\n'
        "Your report does not yet have both evidence and witnesses. Add them now so that it "
        "can be considered, or send it as it is."
    ),
    "btn.anonymous_bar.add_evidence": "Add evidence",
    "label.anonymous_bar.add_evidence": "Add evidence",
    "btn.anonymous_bar.add_witnesses": "Add witnesses",
    "label.anonymous_bar.add_witnesses": "Add witnesses",
    "btn.anonymous_bar.submit": "Send as it is",
    "label.anonymous_bar.submit": "Send the report as it is",
    # --- review ---
    "step.review": "Please review your report before sending.",
    "review.title": "Review before sending",
    "review.below_bar": (
        "Anonymous, without both evidence and witnesses: under section 8.1.1 it may not be "
        "considered."
    ),
    "review.truthful": (
        "Please tell only what you know to be true. Very useful information may earn a "
        "commendation; a report you know to be false may lead to disciplinary action, or "
        "the person harmed may take you to court. (Source: section 8.2.2)"
    ),
    "btn.review.confirm": "Confirm and send",
    "label.review.confirm": "Confirm and send the report",
    "btn.edit.identity_mode": "Edit: anonymity",
    "label.edit.identity_mode": "Edit how I report",
    "btn.edit.category": "Edit: category",
    "label.edit.category": "Edit the category",
    "btn.edit.agency": "Edit: agency",
    "label.edit.agency": "Edit the agency",
    "btn.edit.official": "Edit: official",
    "label.edit.official": "Edit the official",
    "btn.edit.description": "Edit: description",
    "label.edit.description": "Edit the description",
    "btn.edit.when": "Edit: date",
    "label.edit.when": "Edit the date",
    "btn.edit.where": "Edit: place",
    "label.edit.where": "Edit the place",
    "btn.edit.evidence": "Edit: evidence",
    "label.edit.evidence": "Edit the evidence",
    "btn.edit.witnesses": "Edit: witnesses",
    "label.edit.witnesses": "Edit the witnesses",
    "btn.edit.identity": "Edit: my details",
    "label.edit.identity": "Edit my details",
    "btn.edit.notify": "Edit: updates",
    "label.edit.notify": "Edit update messages",
    "sum.identity_mode": "How you report",
    "sum.category": "Category",
    "sum.agency": "Agency",
    "sum.official": "Official involved",
    "sum.description": "What happened",
    "sum.when": "When",
    "sum.where": "Where",
    "sum.evidence": "Evidence",
    "sum.witnesses": "Witnesses",
    "sum.reporter_name": "Your name (sealed)",
    "sum.reporter_contact": "Your contact (sealed)",
    "sum.reporter_relation": "Your relation to the case",
    "sum.notify": "Update messages on LINE",
    "sum.not_given": "Not given",
    "sum.files": "{count} file(s)",
    # --- receipt ---
    "receipt.alt": "Your report has been received: case {case_number}",
    "receipt.title": "Your report has been received",
    "receipt.token_label": "Your tracking token",
    "receipt.keep_secret": (
        "Keep this token secret: whoever has it can see the status and write in this case. "
        "We cannot issue a new one."
    ),
    "receipt.case_number": "Case number",
    "receipt.case_number_note": "The case number is a reference for staff; it opens nothing.",
    "receipt.next": (
        "Send the token in this chat at any time to see the status, read messages from "
        "staff or add information. You may delete this chat once you have noted the token."
    ),
    # --- status ---
    "status.ask_token": (
        "Please send the 16-character tracking token you received, like 7KQ2-M9XD-4FRA-8PZT."
    ),
    "status.not_a_token": (
        "That is not a tracking token. A token has 16 characters, like 7KQ2-M9XD-4FRA-8PZT."
    ),
    "status.finish_form_first": (
        'You are in the middle of a report. Please finish it or type "cancel" first, then '
        "send your tracking token."
    ),
    "status.alt": "Status of case {case_number}",
    "status.title": "Your report's status",
    "status.title_part": "Your report's status ({part}/{parts})",
    "status.case_number": "Case number",
    "status.category": "Category",
    "status.filed": "Filed on",
    "status.status": "Status",
    "status.updated": "Last update",
    "status.note": "Note from the centre",
    "status.messages": "Messages from staff",
    "status.more_messages": "More messages are waiting: send your token again to read them.",
    "status.files_not_kept": (
        "{count} evidence file(s) you sent could not be kept (damaged or too large). If you "
        "still have them, you can send them again now."
    ),
    "status_name.received": "Received",
    "status_name.preliminary_review": "Preliminary review",
    "status_name.fact_finding": "Secret fact-finding",
    "status_name.under_consideration": "Under consideration",
    "status_name.closed": "Closed",
    "status_name.closed.completed": "Closed: completed",
    "status_name.closed.forwarded_agency": "Forwarded to the responsible agency",
    "status_name.closed.forwarded_working_group": "Forwarded to a working group",
    "status_name.closed.referred_nacc": "Referred to the NACC (ป.ป.ช.)",
    "status_name.closed.referred_pacc": "Referred to the PACC (ป.ป.ท.)",
    "status_name.closed.no_grounds": "Closed: no grounds",
    "status_detail.received": (
        "The centre has received your report and is passing it on for a fact check."
    ),
    "status_detail.preliminary_review": (
        "The Office of the BMA Civil Service Commission is checking the facts, with your "
        "name kept secret."
    ),
    "status_detail.fact_finding": "A secret fact-finding subcommittee is looking into it.",
    "status_detail.under_consideration": (
        "The facts are grounded; the case is before the Bangkok Anti-Corruption Operation "
        "Center for a decision."
    ),
    "status_detail.closed": "This case is closed.",
    "outcome_detail.completed": "The centre has completed its work on this case.",
    "outcome_detail.forwarded_agency": "The case was sent to the responsible agency to act on.",
    "outcome_detail.forwarded_working_group": "The case was sent to a specialised working group.",
    "outcome_detail.referred_nacc": "The case was referred to the National Anti-Corruption "
    "Commission (NACC).",
    "outcome_detail.referred_pacc": "The case was referred to the Public Sector Anti-Corruption "
    "Commission (PACC).",
    "outcome_detail.no_grounds": "The facts were checked and no grounds were found.",
    # --- lookup and follow-up ---
    "lookup.not_found": "No report matches that token. Please check it.",
    "lookup.wait": (
        "You have sent a wrong token several times. Please check your token and try "
        "again in about {minutes} minute(s). A correct token is always answered at once."
    ),
    "followup.prompt": (
        "To send more information or answer the staff, type or send files here within "
        "{minutes} minutes. You will see what goes before it is sent. "
        'Press "Done" when finished.'
    ),
    "followup.confirm": "{what}\n\nSend this to the centre? {how}",
    "followup.preview_text": "Message for the centre:\n«{text}»",
    "followup.preview_files": "Files to send: {count}",
    "followup.how.anonymous": "(It goes without revealing who you are.)",
    "followup.how.confidential": "(Your name stays sealed, as before.)",
    "followup.how.unknown": "",
    "btn.followup.send": "Send to the centre",
    "label.followup.send": "Send to the centre",
    "btn.followup.drop": "Don't send",
    "label.followup.drop": "Don't send this",
    "btn.followup.done": "Done",
    "label.followup.done": "Done",
    "followup.sent.anonymous": (
        'Sent to the centre without revealing who you are. Send more, or press "Done".'
    ),
    "followup.sent.confidential": (
        'Sent to the centre. Your name stays sealed, as before. Send more, or press "Done".'
    ),
    "followup.sent.unknown": 'Sent to the centre. Send more, or press "Done".',
    "followup.dropped": 'Not sent. Type a new message, or press "Done".',
    "followup.thanks": (
        "You're welcome. If you have more for the centre, type it or send a file here, or "
        'press "Done".'
    ),
    "followup.done_unsent": (
        "All done. What you did not confirm was not sent. Send your token again any time."
    ),
    "followup.hint": 'Type a message or send a file for the centre, or press "Done".',
    "followup.done": "All done. Send your token again any time.",
    "followup.expired": (
        "The time to add information has ended, and this was not sent. Please send your "
        "tracking token again first."
    ),
    # --- dates ---
    "date.check": "I understood {understood}. Is that right? If not, type the date again.",
    "date.retry": "Fine. Please type the date again, e.g. 15/03/2026 or last Tuesday.",
    "btn.when.ok": "That's right",
    "label.when.ok": "That's right",
    "btn.when.retry": "No, change it",
    "label.when.retry": "No, change the date",
    "fmt.weekday_date": "{weekday}, {date}",
    "period.early": "early {month} {year}",
    "period.mid": "mid-{month} {year}",
    "period.late": "late {month} {year}",
    "period.month": "{month} {year}",
    "period.week": "the week of {start} – {end}",
    "weekday.0": "Monday",
    "weekday.1": "Tuesday",
    "weekday.2": "Wednesday",
    "weekday.3": "Thursday",
    "weekday.4": "Friday",
    "weekday.5": "Saturday",
    "weekday.6": "Sunday",
    "fmt.date": "{day} {month} {year}",
    "fmt.datetime": "{date}, {time}",
    "month.1": "January",
    "month.2": "February",
    "month.3": "March",
    "month.4": "April",
    "month.5": "May",
    "month.6": "June",
    "month.7": "July",
    "month.8": "August",
    "month.9": "September",
    "month.10": "October",
    "month.11": "November",
    "month.12": "December",
    "month_short.1": "Jan",
    "month_short.2": "Feb",
    "month_short.3": "Mar",
    "month_short.4": "Apr",
    "month_short.5": "May",
    "month_short.6": "Jun",
    "month_short.7": "Jul",
    "month_short.8": "Aug",
    "month_short.9": "Sep",
    "month_short.10": "Oct",
    "month_short.11": "Nov",
    "month_short.12": "Dec",
    # --- staff notifications (staff never see identities or report text here) ---
    "kw.link": "link",
    "kw.digest_on": "digest on|daily digest",
    "kw.digest_off": "digest off|immediate",
    "kw.unlink": "unlink",
    "staff.linked": (
        "This LINE account is now linked to {name} ({role}).\n"
        "You will be told of new reports, messages from reporters and approaching deadlines.\n"
        'Send "digest on" to get one summary a day instead, or "unlink".'
    ),
    "staff.group_linked": "This group now receives staff notifications (registered by {name}).",
    "staff.link_invalid": (
        "That code cannot be used: it is wrong, expired, already used, or sent in the wrong "
        "place (a personal code goes in a 1:1 chat with the bot, a group code in the group). "
        "Ask an admin for a new one."
    ),
    "staff.activity.title": "More from the reporter {case_number}",
    "staff.activity.alt": "{case_number}: {what}; see them in the console",
    "staff.activity.messages": "new messages: {count}",
    "staff.activity.files": "new evidence files: {count}",
    "staff.activity.and": ", ",
    "staff.link_throttled": "Too many wrong codes. Please wait {minutes} minutes and try again.",
    "staff.help": (
        "This account is linked to {name} ({role}) for staff notifications only; it does not "
        "take reports.\nNow: {mode}\n"
        'Send "digest on", "digest off" or "unlink".'
    ),
    "staff.mode.digest": "one summary a day",
    "staff.mode.immediate": "every notification at once",
    "staff.unlinked": "Unlinked. This account will get no more notifications.",
    "staff.role.staff": "staff",
    "staff.role.admin": "admin",
    "staff.role.custodian": "custodian",
    "staff.open_console": "Open in the console",
    "staff.case_number": "Case number",
    "staff.category": "Category",
    "staff.agency": "Agency",
    "staff.mode": "Reported",
    "staff.anonymous": "anonymously",
    "staff.confidential": "confidentially (name sealed)",
    "staff.bar": "Evidence and witnesses (8.1.1)",
    "staff.bar.met": "given",
    "staff.bar.not_met": "missing",
    "staff.new_case.title": "New report {case_number}",
    "staff.new_case.alt": "New report {case_number}: {category}, {agency}, {mode}",
    "staff.deadline.title.soon": "Deadline approaching: {case_number}",
    "staff.deadline.title.overdue": "Overdue: {case_number}",
    "staff.deadline.alt.soon": "{case_number}: {deadline} due {due} ({days} days left)",
    "staff.deadline.alt.overdue": "{case_number}: {deadline} is overdue (was due {due})",
    "staff.deadline.what": "Deadline",
    "staff.deadline.due": "Due",
    "staff.deadline.left": "Left",
    "staff.deadline.days": "{days} days",
    "staff.deadline.overdue": "overdue",
    "deadline.subcommittee": "Appoint a fact-finding subcommittee (30 days)",
    "deadline.order_report": (
        "Report the appointment/suspension/transfer order to the Operation Center (7 days)"
    ),
    "deadline.inquiry_progress": "Progress report on the disciplinary inquiry (every 30 days)",
    "deadline.consideration": "Superior's consideration of the inquiry report (45 days)",
    "deadline.forwarding": "Forward the result onwards (15 days)",
    "staff.digest.title": "Daily summary {date}",
    "staff.digest.alt": (
        "Daily summary: {new_cases} new reports, {messages} reporter messages, "
        "{deadlines} deadlines"
    ),
    "staff.digest.new_cases": "New reports",
    "staff.digest.messages": "Messages/evidence from reporters",
    "staff.digest.deadlines": "Deadlines approaching/overdue",
    "staff.digest.cases": "Cases: {numbers}",
    "staff.digest_on": "You will now get one summary a day (08:00).",
    "staff.digest_off": "You will now get every notification at once.",
    "staff.identity_opened.title": "A reporter's identity was opened {case_number}",
    "staff.identity_opened.alt": (
        "{actor} opened the reporter's identity on {case_number}; the reason is in the audit log"
    ),
    "staff.audit_checkpoint": (
        "Audit checkpoint {date}: {count} entries\n"
        "Keep this message: it proves later that the log was not changed or cut "
        "(krasip audit verify --checkpoint)\n{line}"
    ),
    "staff.audit_broken": (
        "Warning: the audit log's chain is broken, so no checkpoint was issued. "
        "Run krasip audit verify now."
    ),
    "richmenu_report": "Report",
    "richmenu_status": "Check status",
    "richmenu_help": "Help",
    "richmenu_bar": "Krasip menu",
}
