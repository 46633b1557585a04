//! The moderators' queue: reach, order, filters and totals; decisions one by one and in bulk; mutes;
//! appeals one level up; live queue events.
