# itos.pl: a vocab file (one token a line, \\ \n \t escaped) on stdin ->
# fastai's itos list as Python writes it with pickle protocol 2 on
# stdout: PROTO 2, EMPTY_LIST, MARK, one BINUNICODE per token, APPENDS,
# STOP.  numz, lmbatch and awdtrain -P read it as the same vocab (same
# size and xxh64 identity) as the text file.
use strict;
use warnings;
binmode STDIN, ':encoding(UTF-8)';
binmode STDOUT;
my @t;
while (my $l = <STDIN>) {
	chomp $l;
	$l =~ s/\\(.)/$1 eq 'n' ? "\n" : $1 eq 't' ? "\t" : $1/ge;
	push @t, $l;
}
print "\x80\x02](";
for my $s (@t) {
	utf8::encode($s);
	print 'X', pack('V', length $s), $s;
}
print 'e.';
close STDOUT or die "itos.pl: stdout: $!\n";
