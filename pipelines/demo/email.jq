# One SpamAssassin e-mail (JSON) -> a CSV row: label, body, is_valid.
# The body is what follows the first blank line: headers would give the
# label away; it is cut to $len characters to keep the demo quick.
# Every 5th e-mail (by id) is held out for validation.
[ (if (.group | startswith("spam")) then "spam" else "ham" end),
  (.text | split("\n\n") | .[1:] | join("\n\n") | .[0:$len]),
  ((.id | tonumber) % 5 == 0) ] | @csv
