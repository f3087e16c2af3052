# One SpamAssassin e-mail (JSON) -> a CSV row: label, body, is_valid.
# The body is what follows the first blank line: headers would give the
# label away.  Every 5th e-mail (by id) is held out for validation.
[ (if (.group | startswith("spam")) then "spam" else "ham" end),
  (.text | split("\n\n") | .[1:] | join("\n\n")),
  ((.id | tonumber) % 5 == 0) ] | @csv
