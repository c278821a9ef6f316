import os
import threading
import unittest
from unittest import mock

from myapp import worker


class WorkerTest(unittest.TestCase):

    def setUp(self):
        super().setUp()
        self.mock_fetch = mock.patch('myapp.worker.fetch_job').start()
        os.environ['MYAPP_QUEUE'] = 'test-queue'

    def test_processes_one_job(self):
        self.mock_fetch.return_value = {
            'id': '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', 'payload': 'x'}
        runner = threading.Thread(target=worker.run_once)
        runner.start()
        runner.join(timeout=5)
        self.assertFalse(runner.is_alive())

    def test_queue_name_from_env(self):
        self.assertEqual('test-queue', worker.queue_name())
