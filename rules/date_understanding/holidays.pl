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
