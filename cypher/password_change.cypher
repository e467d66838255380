// Change the logged-in user's password (run on the system database; the values never enter the text).
// Parameters: $old (the current password), $new (the new one).
ALTER CURRENT USER SET PASSWORD FROM $old TO $new
