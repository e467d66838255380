// Some of the server's settings, by name (SHOW SETTINGS exists in Community 5.26; it needs an admin user).
// Parameters: $names (a list of setting names, e.g. ['server.http.listen_address']).
SHOW SETTINGS $names YIELD name, value
RETURN name, value
