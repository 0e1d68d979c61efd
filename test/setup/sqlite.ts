process.env.KEEL_TEST_DATABASE = 'sqlite';
