-- phase: expand
CREATE TABLE greetings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message text NOT NULL
);

INSERT INTO greetings (message) VALUES ('hello');
