% Purpose: the knowledge base of holiday dates for date_understanding: the month and
%   day of each holiday that a question may name instead of a date.
% Inputs: none; these are facts.
% Answer: none directly; dates.pl turns a holiday of a given year into a date.
% Provenance: written by the teacher (Claude, a language model acting as the
%   teacher) from the holidays named in the date_understanding questions of the BBH
%   training split and in the teacher's own synthetic questions.

% Fixed-date holidays, as holiday_date(Name, Month, Day).
holiday_date('Christmas Eve', 12, 24).
holiday_date('Christmas', 12, 25).
holiday_date('New Year\'s Day', 1, 1).
holiday_date('New Year\'s Eve', 12, 31).
holiday_date('Halloween', 10, 31).
holiday_date('Valentine\'s Day', 2, 14).
holiday_date('St. Patrick\'s Day', 3, 17).
holiday_date('Boxing Day', 12, 26).
holiday_date('Bastille Day', 7, 14).
holiday_date('Groundhog Day', 2, 2).
holiday_date('Canada Day', 7, 1).
holiday_date('Cinco de Mayo', 5, 5).
holiday_date('Juneteenth', 6, 19).
holiday_date('Earth Day', 4, 22).
holiday_date('April Fools\' Day', 4, 1).
holiday_date('Guy Fawkes Night', 11, 5).
holiday_date('Anzac Day', 4, 25).
holiday_date('Veterans Day', 11, 11).
holiday_date('Pi Day', 3, 14).
holiday_date('Epiphany', 1, 6).
holiday_date('All Saints\' Day', 11, 1).
holiday_date('International Women\'s Day', 3, 8).
holiday_date('St. Andrew\'s Day', 11, 30).
