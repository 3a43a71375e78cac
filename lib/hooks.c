/* hooks: where the domain modules meet. Each module that must follow video
 * changes in the same transaction, or that has indexes to verify, adds its
 * function here. */
#include "catalog.h"
#include "engage.h"
#include "pay.h"
#include "search.h"

const msp_video_observer msp_video_observers[] = {
	msp_engage_observe,
	msp_search_observe,
	NULL
};

const msp_checker msp_checkers[] = {
	msp_engage_check,
	msp_pay_check,
	msp_search_check,
	NULL
};
